"""Ready-to-run agent applications built on hf_tools (run from the checkout)."""
