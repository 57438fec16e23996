/// The F# DSL builds the same records as the C# API.
module Functional.Tests.DslTests

open Expecto
open Functional
open Functional.FSharp
open Functional.Tests.Support

/// Seed 000's CNN as an F# pipeline.
let seedCnnPipeline () =
    Model.input [ 28; 28; 1 ]
    |> Model.add (Layers.conv2d (32, 3, padding = "same", activation = "relu"))
    |> Model.add (Layers.maxPooling2d 2)
    |> Model.add (Layers.conv2d (64, 3, padding = "same", activation = "relu"))
    |> Model.add (Layers.maxPooling2d 2)
    |> Model.add (Layers.conv2d (128, 3, padding = "same", activation = "relu"))
    |> Model.add (Layers.maxPooling2d 2)
    |> Model.add (Layers.flatten ())
    |> Model.add (Layers.dense 10)
    |> Model.add (Layers.activation "softmax")

[<Tests>]
let tests =
    testList "F# DSL" [
        test "the F# pipeline and the C# constructors declare equal models with equal summaries" {
            let fromFSharp = seedCnnPipeline ()
            let fromCSharp = ModelTests.seedCnn ()
            Expect.equal fromFSharp fromCSharp "equal models"
            Expect.equal (Model.summary fromFSharp) (fromCSharp.Summary()) "equal summaries"
        }

        test "the list form equals the pipeline" {
            let listed =
                Model.sequential [ Layers.input (28, 28, 1); Layers.conv2d (32, 3, padding = "same", activation = "relu")
                                   Layers.maxPooling2d 2; Layers.conv2d (64, 3, padding = "same", activation = "relu")
                                   Layers.maxPooling2d 2; Layers.conv2d (128, 3, padding = "same", activation = "relu")
                                   Layers.maxPooling2d 2; Layers.flatten (); Layers.dense 10; Layers.activation "softmax" ]
            Expect.equal listed (seedCnnPipeline ()) "equal"
        }

        test "DSL arguments are validated by the records, naming the argument" {
            throwsWith<System.ArgumentException> [ "padding"; "'sane'" ] (fun () -> Layers.conv2d (32, 3, padding = "sane") |> ignore)
        }
    ]
