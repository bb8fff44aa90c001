"""Posters, social posts, contact sheets and engagement read-back. Imports only the catalog: no torch.

- `posters`: print-ready PDF + PNG posters (artwork + QR code to the piece's page), batch on a process pool.
- `social`: Instagram posts (1080 px sRGB JPEG, the artist's caption, alt text, optional carousel slide).
- `contact_sheet`: one PNG of many pieces with titles and scores, for reviewing a batch.
- `engagement`: likes and comments read back through a `PostSource` (instaloader or saved JSON) into the catalog.
- `paper`, `upscale`, `files`, `fonts`, `color`, `pieces`: sizes, the `Upscaler` protocol, atomic writes and the
  fast PNG writer, text, sRGB, piece selection.

Submodules are imported where used; importing this package loads nothing.
"""
