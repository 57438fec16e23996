// Writes dsl/Layers.fs from the layer records in the built Functional.dll (see dsl/LayerGenerator.fs).
//     dotnet build src/Functional.Torch -c Release && dotnet fsi dsl/generate-layers.fsx
// `--check` writes nothing: it exits 1 and says so when dsl/Layers.fs is not what the generator writes now.
#r "../src/Functional.Torch/bin/Release/net10.0/Functional.dll"
#load "LayerGenerator.fs"

open System.IO

let dll = Path.Combine(__SOURCE_DIRECTORY__, "..", "src", "Functional.Torch", "bin", "Release", "net10.0", "Functional.dll")
let asm = typeof<Functional.Layers.Layer>.Assembly
let text = Functional.FSharp.LayerGenerator.generate asm (Some (Path.ChangeExtension(dll, ".xml")))
let target = Path.Combine(__SOURCE_DIRECTORY__, "Layers.fs")
let current = if File.Exists target then File.ReadAllText(target).Replace("\r\n", "\n") else ""

if fsi.CommandLineArgs |> Array.contains "--check" then
    if current = text then printfn "dsl/Layers.fs is up to date."
    else
        eprintfn "dsl/Layers.fs is out of date; run: dotnet build src/Functional.Torch -c Release && dotnet fsi dsl/generate-layers.fsx"
        exit 1
elif current = text then printfn "dsl/Layers.fs is already up to date."
else
    File.WriteAllText(target, text)
    printfn "Wrote dsl/Layers.fs (%d lines)." (text.Split('\n').Length - 1)
