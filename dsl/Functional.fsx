// Loads Functional into F# Interactive after one `dotnet build`:
//   #load "dsl/Functional.fsx"      (path relative to your script)
// It references the DSL's build output, which holds every dependency and the (patched) libtorch natives.
#r "bin/Release/net10.0/TorchSharp.dll"
#r "bin/Release/net10.0/Functional.dll"
#r "bin/Release/net10.0/Functional.Torch.dll"
#r "bin/Release/net10.0/Functional.FSharp.dll"

// Load libtorch through Functional's loader before any TorchSharp call, so the real cause is reported if it cannot load.
Functional.Native.LibTorch.EnsureLoaded()
