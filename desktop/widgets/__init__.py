"""Widgets every page shares: the inline banner, the job panel, the error dialog."""
