"""What the audience made of the pieces: likes and comments read back from Instagram into the catalog, and turned
into ratings the aesthetic scorer trains on. Imports only the catalog: no torch (instaloader loads when used).

- `sources`: where posts come from (`InstaloaderSource`, `JsonPostSource` for saved posts).
- `readback`: posts matched to pieces (recorded shortcode, else caption) and stored, one commit per post.
- `audience`: the engagement as 1-10 ratings by rank, in the scorer's CSV format.

Submodules are imported where used; importing this package loads nothing.
"""
