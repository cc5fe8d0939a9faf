"""Adapters that hand a jail to agent frameworks as their file-tool backend.

Each adapter lives in its own module and imports its framework only there, so ``jailfs`` itself
never needs them (install the extras ``jailfs[langchain]``, ``jailfs[deepagents]``,
``jailfs[mcp]``):

- :mod:`jailfs.integrations.langchain`: ``JailToolkit(fs).get_tools()``, LangChain tools built from
  :class:`jailfs.tools.JailTools`;
- :mod:`jailfs.integrations.deepagents`: ``JailBackend(fs)``, a deepagents ``BackendProtocol``
  backend for ``create_deep_agent(..., backend=JailBackend(fs))``;
- :mod:`jailfs.integrations.mcp`: an MCP stdio server serving one jail with the tools of the MCP
  reference filesystem server (``python -m jailfs.integrations.mcp jailfs.toml``).
"""
