"""The fullscreen gallery display: a pure slideshow state machine and the pygame loop. No torch.

    dstrtd gallery --studio DIR [--display N] [--hours "tue-sun 10:00-18:00"] [--base-url https://...]

Modules: `config` (the settings), `schedule` (opening hours), `order` (what comes next), `slideshow` (the state
machine: `tick(dt)` -> `Frame`), `images` (safe decoding and fitting), `preload` (the decoding thread), `source`
(the catalog, watched on its own thread), `overlay` (QR sizing, text sizes and wrapping), `fonts` (which font:
`--font`, else the first installed of a preference list, else pygame's own), `render` (pygame drawing),
`state` (the resume file) and `app` (the loop). Only `render` and `app` import pygame.

Keys: right = next, left = previous, space = pause, o = overlays on/off, f = fullscreen, q / Esc = quit. The web
part drives the same through `Catalog.post_command("display", "next" | "previous" | "pause" | "resume" | "reload")`.
SIGTERM (a service manager stopping it) quits cleanly and saves the position to `DIR/gallery-state.json`.
"""
