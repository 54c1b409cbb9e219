// Command posagent is the payment agent for in-store checkout terminals.
package main

import (
	"fmt"
	"os"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "version" {
		fmt.Println("posagent", version)
		return
	}
	fmt.Fprintln(os.Stderr, "usage: posagent version")
	os.Exit(2)
}
