"""The command line: argument parsing, subcommands, output, exit codes and config loading."""
