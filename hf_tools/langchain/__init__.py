"""The LangChain adapter over the core: tools, toolkit, chat/LLM/embeddings models, agent loop.

Everything under ``hf_tools.langchain`` imports ``langchain_core``; the core does not
(``import hf_tools``, :class:`~hf_tools.HFClient`, the toolset and the MCP server stay
LangChain-free, a test proves it): only this adapter and the apps and helpers built on it
(the CLI's agent and demo, the assistant, the chatbot server, ``hf_tools.testing``) use it.
The public names are also exported lazily from ``hf_tools`` itself.
"""
