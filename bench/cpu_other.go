//go:build !unix

package bench

import "time"

// processCPU is not measured outside Unix; the saturation warning is then
// never given.
func processCPU() time.Duration { return 0 }
