"""One page per stage: ``<stage>_page.py`` defines ``<Stage>Page`` (see ``base.StagePage``)."""
