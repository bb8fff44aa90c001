"""What runs for the public: the studio loop, the gallery display, posters, social posts, web pages and the CLI."""
