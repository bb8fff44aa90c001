"""The fullscreen gallery display: a pure slideshow state machine and the pygame loop. No torch."""
