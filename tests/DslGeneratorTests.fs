/// dsl/Layers.fs is generated from the layer records (dsl/generate-layers.fsx over dsl/LayerGenerator.fs): these tests fail
/// when a record changed or was added without regenerating it, and say the command that fixes it.
module Functional.Tests.DslGeneratorTests

open System
open System.Diagnostics
open System.IO
open System.Reflection
open Expecto
open Functional.FSharp
open Functional.Tests.ExampleScriptTests

let private regenerate =
    "dotnet build src/Functional.Torch -c Release && dotnet fsi dsl/generate-layers.fsx"

/// Functional.dll's XML documentation: beside the loaded assembly, or in src/Functional's build output.
let private xmlDoc (asm: Assembly) =
    [ Path.ChangeExtension(asm.Location, ".xml")
      Path.Combine(repoRoot (), "src", "Functional", "bin", "Release", "net10.0", "Functional.xml") ]
    |> List.tryFind File.Exists

let private layersFile () = Path.Combine(repoRoot (), "dsl", "Layers.fs")

[<Tests>]
let tests =
    testList "F# DSL generator" [
        test "dsl/Layers.fs is what dsl/generate-layers.fsx writes" {
            let asm = typeof<Functional.Layers.Layer>.Assembly
            let doc = xmlDoc asm
            Expect.isSome doc "Functional.xml (the records' XML documentation) is built with Functional.dll"
            let expected = LayerGenerator.generate asm doc
            let actual = File.ReadAllText(layersFile ()).Replace("\r\n", "\n")
            if actual <> expected then
                let a = actual.Split '\n'
                let e = expected.Split '\n'
                let i = Seq.zip a e |> Seq.tryFindIndex (fun (x, y) -> x <> y) |> Option.defaultValue (min a.Length e.Length)
                let line (ls: string[]) = if i < ls.Length then ls[i] else "<end of file>"
                failtestf "dsl/Layers.fs is out of date with the layer records (first difference at line %d: the file has\n  %s\nthe generator writes\n  %s). Run: %s"
                    (i + 1) (line a) (line e) regenerate
        }

        test "every concrete layer record has its DSL function, with the record's constructor arguments" {
            let asm = typeof<Functional.Layers.Layer>.Assembly
            let members =
                typeof<Functional.FSharp.Layers>.GetMethods(BindingFlags.Public ||| BindingFlags.Static)
                |> Array.map (fun m -> m.Name, m) |> Map.ofArray
            let expected = LayerGenerator.expectedFunctions asm
            Expect.isGreaterThan expected.Length 50 "the generator finds the layer records"
            for record, fn in expected do
                match members.TryFind fn with
                | None -> failtestf "layer record %s has no DSL function Layers.%s. Run: %s" record fn regenerate
                | Some m ->
                    let t = asm.GetType("Functional.Layers." + record, true)
                    let ctor = (LayerGenerator.kerasConstructor t).Value
                    let dslParams = m.GetParameters() |> Array.map (fun p -> p.Name) |> Set.ofArray
                    for p in ctor.GetParameters() do
                        if not (dslParams.Contains p.Name) then
                            failtestf "Layers.%s lacks %s's constructor argument '%s'. Run: %s" fn record p.Name regenerate
                    for p in LayerGenerator.baseProperties typeof<Functional.Layers.Layer> do
                        let name = string (Char.ToLowerInvariant p.Name[0]) + p.Name.Substring 1
                        if not (dslParams.Contains name) then
                            failtestf "Layers.%s lacks the base layer's argument '%s'. Run: %s" fn name regenerate
        }

        test "DSL names follow the Keras class names" {
            let cases =
                [ "Conv2D", "conv2d"; "MaxPooling2D", "maxPooling2d"; "Conv1DTranspose", "conv1dTranspose"; "LeakyReLU", "leakyRelu"
                  "ReLU", "relu"; "ELU", "elu"; "PReLU", "prelu"; "BatchNormalization", "batchNormalization"
                  "GlobalAvgPool3D", "globalAvgPool3d"; "Add", "add" ]
            for cls, name in cases do
                Expect.equal (LayerGenerator.dslName cls) name cls
        }

        test "the base layer's init-only arguments are found generically (Name, Trainable), not by name" {
            let props = LayerGenerator.baseProperties typeof<Functional.Layers.Layer> |> List.map (fun p -> p.Name)
            Expect.containsAll props [ "Name"; "Trainable" ] "Name and Trainable are init-only properties of Layer"
            Expect.isFalse (List.contains "ActivityRegularizer" props) "virtual properties stay with the records' constructors"
        }

        test "a DSL layer made without dtype takes the policy current when it is made, as Keras resolves dtype=None" {
            let before = Functional.FSharp.Layers.dense 4
            Expect.equal before.Dtype.Name (Functional.Layers.DTypePolicy.Current.Name) "the current policy"
            using (Functional.Layers.DTypePolicy.Use Functional.Layers.DTypePolicy.MixedBFloat16) (fun _ ->
                Expect.equal (Functional.FSharp.Layers.dense 4).Dtype.Name "mixed_bfloat16" "made under mixed_bfloat16"
                Expect.equal (Functional.FSharp.Layers.dense(4, dtype = Functional.Layers.DTypePolicy.Float64)).Dtype.Name "float64" "given explicitly")
        }

        test "dotnet fsi dsl/generate-layers.fsx --check passes on the committed file" {
            if not sdkAvailable.Value then skiptest "no .NET SDK on PATH to run dotnet fsi"
            let psi = ProcessStartInfo("dotnet", "fsi dsl/generate-layers.fsx --check")
            psi.RedirectStandardOutput <- true
            psi.RedirectStandardError <- true
            psi.WorkingDirectory <- repoRoot ()
            use p = Process.Start psi
            let out = p.StandardOutput.ReadToEndAsync()
            let err = p.StandardError.ReadToEndAsync()
            if not (p.WaitForExit 300_000) then p.Kill true
            Expect.equal p.ExitCode 0 (sprintf "the script's check failed:\n%s\n%s" out.Result err.Result)
            Expect.stringContains out.Result "up to date" "the script reports the file up to date"
        }
    ]
