"""The one night recorder (live and replay) and its online clock estimate."""
