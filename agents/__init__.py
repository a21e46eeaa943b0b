"""The apps under their checkout names: ``python -m agents.assistant``, ``agents.chatbot_server``.

The apps themselves are installed with the package (:mod:`hf_tools.assistant`,
:mod:`hf_tools.serve`, both also ``hf-tools`` subcommands); these modules only name them here.
"""
