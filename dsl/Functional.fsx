// Loads Functional into F# Interactive after one `dotnet build`:
//   #load "dsl/Functional.fsx"      (path relative to your script)
// It references the DSL's build output, which holds every dependency and the (patched) libtorch natives.
#r "bin/Release/net10.0/TorchSharp.dll"
#r "bin/Release/net10.0/Functional.dll"
#r "bin/Release/net10.0/Functional.Torch.dll"
#r "bin/Release/net10.0/Functional.FSharp.dll"

// Load libtorch through Functional's loader before any TorchSharp call, so the real cause is reported if it cannot load.
Functional.Native.LibTorch.EnsureLoaded()

// Declaration errors show the library's message and the script line, not a stack dump.
Functional.FSharp.ScriptErrors.enabled <- true

// Models print as their Keras summary; symbolic tensors as their shape; tensors as shape, dtype and device (no data).
fsi.AddPrinter(fun (model: Functional.Models.Sequential) -> model.Summary())
fsi.AddPrinter(fun (model: Functional.Models.Model) -> model.Summary())
fsi.AddPrinter(fun (x: Functional.Models.SymbolicTensor) -> x.ToString())
fsi.AddPrinter(fun (t: TorchSharp.torch.Tensor) ->
    if t.IsInvalid then "Tensor(disposed)"
    else
        let shape = t.shape |> Array.map string |> String.concat ", "
        let shape = if t.shape.Length = 1 then shape + "," else shape
        sprintf "Tensor(shape=(%s), dtype=%s, device=%O)" shape (t.dtype.ToString().ToLowerInvariant()) t.device)
