"""The process a command runs in: what every layer of the package may use, importing nothing of it.

- `console`: the project's own log lines, library chatter kept quiet unless asked for;
- `paths`: local and gs:// paths through one file layer, writable-directory checks;
- `compile_cache`: JAX's persistent compilation cache, where it lives and its command-line flag;
- `host_memory`: glibc's malloc settings for CPU command lines (opt-in), set before any thread.
"""
