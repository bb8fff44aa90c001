"""The curators and the collection: aesthetic scorer, aligner, clustering, dedup, selection, and the catalog.

`curation.catalog` and `curation.studio` use only the standard library, so a gallery machine runs them without torch.
"""
