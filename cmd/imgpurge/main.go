// Command imgpurge is the command-line client of imgpurged.
package main

import (
	"os"

	"github.com/imgpurge/imgpurge/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
