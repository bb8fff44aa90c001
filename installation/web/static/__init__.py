"""The public pages' one stylesheet."""
