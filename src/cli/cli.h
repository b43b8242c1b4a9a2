#pragma once
/* Parses the command line, runs one command and returns the exit code. */
int cli_main(int argc, char **argv);
