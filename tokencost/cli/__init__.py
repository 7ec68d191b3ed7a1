"""The `tokencost` command line: argument types, the parser, and one small module of handlers per kind of
command. Heavy modules (vLLM, torch, pandas, matplotlib) are imported inside handlers, so
`tokencost --help` stays instant."""
