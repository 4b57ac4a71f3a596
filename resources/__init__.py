"""Data files shipped with Stillroom: stylesheet, icons, the demo sample (not code)."""
