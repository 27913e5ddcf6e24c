package app

// The built-in HTTP filters, registered by importing them: this list is the binary's set of
// filters, in one place.
import (
	_ "github.com/pylon-gateway/pylon/internal/filter/cors"
	_ "github.com/pylon-gateway/pylon/internal/filter/localratelimit"
)
