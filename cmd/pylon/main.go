// Command pylon is an Envoy-grade L7 proxy and AI gateway. See `pylon --help`.
package main

import (
	"os"

	"github.com/pylon-gateway/pylon/internal/app"
)

func main() { os.Exit(app.Main(os.Args[1:], os.Stdout, os.Stderr)) }
