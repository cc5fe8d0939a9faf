"""LangChain tools over a jail: ``JailToolkit(fs).get_tools()``.

Each tool is a :class:`langchain_core.tools.StructuredTool` whose argument schema is the JSON schema
of the matching :class:`jailfs.tools.JailTools` tool. A failed call (a denied path, an escape, a
missing file, an ambiguous edit ...) does not raise into the agent loop: the model gets the short
"Error: ..." text as a tool message with ``status="error"``, and the audit log gets the detail.

```python
from langchain.agents import create_agent
from jailfs import JailFileSystem
from jailfs.integrations.langchain import JailToolkit

fs = JailFileSystem.from_config("jailfs.toml")
agent = create_agent(model, tools=JailToolkit(fs).get_tools())
```
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException

from jailfs.filesystem import JailFileSystem
from jailfs.tools import TOOL_NAMES, WRITE_TOOLS, JailTools


class JailToolkit:
    """The jail's file tools as LangChain tools.

    ``tools`` picks tools by name (default: all of them, see :data:`jailfs.tools.TOOL_NAMES`);
    ``include_write`` offers or withholds the write tools (default: offer them only when the
    jail's write list is not empty, so a read-only jail shows the model read tools only).
    """

    def __init__(
        self,
        fs: JailFileSystem,
        *,
        tools: Iterable[str] | None = None,
        include_write: bool | None = None,
    ) -> None:
        self.fs = fs
        self.jail_tools = JailTools(fs)
        names = list(TOOL_NAMES if tools is None else tools)
        unknown = [n for n in names if n not in TOOL_NAMES]
        if unknown:
            raise ValueError(f"unknown jail tool(s): {', '.join(unknown)}")
        writable = self.jail_tools.writable if include_write is None else include_write
        self.names = [n for n in names if writable or n not in WRITE_TOOLS]

    def get_tools(self) -> list[BaseTool]:
        """One :class:`StructuredTool` per offered jail tool."""
        return [self._tool(spec) for spec in JailTools.specs(self.names)]

    def _tool(self, spec: dict[str, Any]) -> BaseTool:
        name: str = spec["name"]
        schema: dict[str, Any] = dict(spec["parameters"])
        return StructuredTool.from_function(
            func=self._runner(name),
            name=name,
            description=spec["description"],
            args_schema=schema,
            infer_schema=False,
            handle_tool_error=True,
        )

    def _runner(self, name: str) -> Callable[..., str]:
        tools = self.jail_tools

        def run(**kwargs: Any) -> str:
            result = tools.run(name, kwargs)
            if result.is_error:
                # handle_tool_error=True: LangChain turns this into the tool message (status
                # "error") instead of failing the agent run.
                raise ToolException(result.text)
            return result.text

        run.__name__ = name
        run.__doc__ = f"jailfs tool {name}"
        return run


__all__ = ["JailToolkit"]
