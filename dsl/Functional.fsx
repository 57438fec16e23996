// Loads Functional into F# Interactive after one `dotnet build` (the solution has only Release configurations and every
// project defaults to Release, so any plain build of the solution, dsl/ or tests/ writes bin/Release):
//   #load "dsl/Functional.fsx"      (path relative to your script)
// It references the DSL's build output, which holds every dependency and the (patched) libtorch natives.
#r "bin/Release/net10.0/TorchSharp.dll"
#r "bin/Release/net10.0/Functional.dll"
#r "bin/Release/net10.0/Functional.Torch.dll"
#r "bin/Release/net10.0/Functional.FSharp.dll"

// Load libtorch through Functional's loader before any TorchSharp call, so the real cause is reported if it cannot load.
Functional.Torch.Native.LibTorch.EnsureLoaded()

// Declaration errors and unknown option strings show the library's message and the script line, not a stack dump.
Functional.FSharp.ScriptErrors.enable ()

// Models print as their Keras summary; layers as a Keras constructor call; symbolic tensors as their shape; built
// models as their weight count; tensors as shape, dtype and device (never their data).
fsi.AddPrinter(fun (model: Functional.Models.Sequential) -> model.Summary())
fsi.AddPrinter(fun (model: Functional.Models.Model) -> model.Summary())
fsi.AddPrinter Functional.FSharp.Printing.layer
fsi.AddPrinter(fun (x: Functional.Models.SymbolicTensor) -> x.ToString())
fsi.AddPrinter Functional.FSharp.Printing.built
fsi.AddPrinter Functional.FSharp.Printing.tensor
