"""Data files shipped with Stillroom: stylesheet, icons, the demo sample, the
anonymizer's clinical allow-list (not code)."""
