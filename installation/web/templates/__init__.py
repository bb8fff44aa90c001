"""HTML templates (string.Template, `$name` placeholders) of the public pages."""
