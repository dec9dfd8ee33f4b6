"""The `uiserver` commands, one module each, every one exposing `run(args) -> int`.

Commands sit on top of the libraries (they parse nothing: `uiserver.cli` does) and no library
imports them, so `uiserver validate` never pays for starting a server and nothing imports back.
"""
