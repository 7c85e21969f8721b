// Command gpu is the towerd GPU collector: NVIDIA via nvidia-smi, Intel via
// i915/xe sysfs and intel_gpu_top, AMD via amdgpu sysfs; it publishes
// gpu_update.
package main

import "github.com/towerd/towerd/sdk"

func main() { sdk.Serve(newCollector()) }
