"""The console's Textual stylesheets (shipped inside the package as swarmdeck.styles)."""
