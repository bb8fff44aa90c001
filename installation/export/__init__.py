"""Posters, social posts and contact sheets. Imports only the catalog: no torch.

- `posters`: print-ready PDF + PNG posters (artwork + QR code to the piece's page), batch on a process pool.
- `social`: Instagram posts (1080 px sRGB JPEG, the artist's caption, alt text, optional carousel slide).
- `contact_sheet`: one PNG of many pieces with titles and scores, for reviewing a batch.
- `config`: the settings of each (the CLI's options are derived from them).
- `paper`, `upscale`, `files`, `fonts`, `color`, `pieces`: sizes, the `Upscaler` protocol, the fast PNG writer,
  text, the sRGB tag of output files, piece selection and reading.

Engagement read-back from Instagram is `installation.engagement`.

Submodules are imported where used; importing this package loads nothing.
"""
