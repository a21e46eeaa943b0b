"""The LangChain adapter over the core: tools, toolkit, chat/LLM/embeddings models, agent loop.

Everything under ``hf_tools.langchain`` imports ``langchain_core``; nothing else in
``hf_tools`` does (``import hf_tools`` and :class:`~hf_tools.HFClient` stay LangChain-free,
a test proves it). The public names are also exported lazily from ``hf_tools`` itself.
"""
