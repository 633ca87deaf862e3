package app

// Helpers of the checks of the production shape (docker-compose.yml,
// .env.example and the Dockerfile, each in its own file), which hold the
// stack to the settings and subcommands of this binary.

import (
	"context"
	"io"
)

// stackRoot is where docker-compose.yml, .env.example and the Dockerfile
// live, seen from this package.
const stackRoot = ".."

// stackVariables are the variables of .env.example that are not alertflow
// settings but the stack's own.
var stackVariables = map[string]bool{
	"POSTGRES_PASSWORD": true,
}

func settingsByName() map[string]setting {
	m := make(map[string]setting)
	for _, s := range settings() {
		m[s.env] = s
	}
	return m
}

// binaryKnowsCommand says whether the binary accepts cmd as its subcommand: a
// known one answers -h with exit code 0, an unknown one with 2.
func binaryKnowsCommand(cmd string) bool {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return run(ctx, []string{cmd, "-h"}, func(string) string { return "" }, io.Discard, io.Discard) == 0
}
