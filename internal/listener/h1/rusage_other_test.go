//go:build !unix

package h1

import "time"

func processCPU() time.Duration { return 0 }
