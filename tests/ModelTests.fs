/// Sequential models: naming, declaration-time validation, and summaries in Keras's format (no libtorch needed).
module Functional.Tests.ModelTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Models
open Functional.Tests.Support

/// Seed 000's CNN for 28×28×1 digits.
let seedCnn () =
    Sequential(
        Input(28, 28, 1),
        Conv2D(32, (3, 3), padding = "same", activation = "relu"), MaxPooling2D((2, 2)),
        Conv2D(64, (3, 3), padding = "same", activation = "relu"), MaxPooling2D((2, 2)),
        Conv2D(128, (3, 3), padding = "same", activation = "relu"), MaxPooling2D((2, 2)),
        Flatten(), Dense(10), Activation(ActivationFunction "softmax"))

let private seed003Summary =
    String.concat "\n" [
        "Model: \"sequential\""
        "┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓"
        "┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃"
        "┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩"
        "│ conv2d (Conv2D)                 │ (None, 64, 64, 32)     │           896 │"
        "└─────────────────────────────────┴────────────────────────┴───────────────┘"
        " Total params: 896 (3.50 KB)"
        " Trainable params: 896 (3.50 KB)"
        " Non-trainable params: 0 (0.00 B)"
        "" ]

[<Tests>]
let tests =
    testList "Sequential and summary" [
        test "seed 003's summary() model: Conv2D(32, 3, strides 2, same, relu) on 128×128×3, printed as Keras prints it" {
            let model = Sequential(Input(128, 128, 3), Conv2D(32, 3, strides = 2, padding = "same", activation = "relu"))
            Expect.equal (model.Summary()) seed003Summary "summary text"
        }

        test "seed 003's MaxPooling2D summary model has no parameters" {
            let model = Sequential(Input(100, 100, 15), MaxPooling2D(2, 2))
            let s = model.Summary()
            Expect.stringContains s "│ max_pooling2d (MaxPooling2D)    │ (None, 50, 50, 15)     │             0 │" "row"
            Expect.stringContains s " Total params: 0 (0.00 B)" "total"
        }

        test "seed 000's CNN: shapes, 104,202 params, Keras's default names" {
            let model = seedCnn ()
            let s = model.Summary()
            Expect.equal model.OutputShape (Shape 10) "output"
            Expect.equal model.ParameterCount 104202L "params"
            for row in [ "conv2d (Conv2D)"; "conv2d_1 (Conv2D)"; "conv2d_2 (Conv2D)"; "max_pooling2d_2 (MaxPooling2D)"
                         "flatten (Flatten)"; "dense (Dense)"; "activation (Activation)"; "(None, 3, 3, 128)"; "(None, 1152)"
                         "18,496"; "73,856"; "11,530"; " Total params: 104,202 (407.04 KB)"; " Non-trainable params: 0 (0.00 B)" ] do
                Expect.stringContains s row row
        }

        propertyWith pureConfig "summary totals equal the sum of the layers' parameters" (Arb.fromGen (Gen.listOfLength 3 (Gen.choose (1, 64)))) (fun widths ->
            let layers = widths |> List.map (fun u -> Dense(u) :> Layer)
            let model = Sequential(Array.ofList ((Input(7) :> Layer) :: layers))
            let summary = model.Summarize()
            summary.TotalParameters = (summary.Rows |> Seq.sumBy (fun r -> r.Parameters))
            && summary.TotalParameters = model.ParameterCount
            && summary.TrainableParameters + summary.NonTrainableParameters = summary.TotalParameters)

        test "frozen layers count as non-trainable" {
            let model = Sequential(Input(4), Dense(3, Trainable = false), Dense(2))
            Expect.equal model.NonTrainableParameterCount 15L "frozen Dense(3) on 4 inputs"
            Expect.stringContains (model.Summary()) " Non-trainable params: 15 (60.00 B)" "summary line"
        }

        test "names follow Keras: snake case per class with _1, _2; explicit names kept; duplicates rejected" {
            Expect.equal (Layer.ToSnakeCase "MaxPooling2D") "max_pooling2d" "MaxPooling2D"
            Expect.equal (Layer.ToSnakeCase "Conv2DTranspose") "conv2d_transpose" "Conv2DTranspose"
            Expect.equal (Layer.ToSnakeCase "ReLU") "re_lu" "ReLU"
            Expect.equal (Layer.ToSnakeCase "GlobalAveragePooling2D") "global_average_pooling2d" "GAP"
            let model = Sequential(Input(4), Dense(3, Name = "dense"), Dense(3), Dense(2))
            Expect.sequenceEqual (model.Layers |> Seq.map (fun l -> l.Name)) [ "dense"; "dense_1"; "dense_2" ] "names"
            throwsWith<ArgumentException> [ "'head'" ] (fun () -> Sequential(Input(4), Dense(3, Name = "head"), Dense(2, Name = "head")) |> ignore)
        }

        test "a model must start with an Input" {
            throwsWith<ArgumentException> [ "must start with an Input" ] (fun () -> Sequential(Dense(3) :> Layer) |> ignore)
        }

        test "models compare by value; Add returns a new model" {
            let a = Sequential(Input(4), Dense(3))
            Expect.equal a (Sequential(Input(4), Dense(3))) "equal"
            Expect.equal (a.Add(Dense(2))) (Sequential(Input(4), Dense(3), Dense(2))) "add"
            Expect.equal a.Layers.Length 1 "a unchanged"
        }

        test "the pure core does not reference TorchSharp, so summaries and shape errors never load libtorch" {
            let refs = typeof<Sequential>.Assembly.GetReferencedAssemblies() |> Array.map (fun a -> a.Name)
            Expect.isFalse (refs |> Array.exists (fun n -> n.StartsWith "TorchSharp")) (sprintf "references: %A" refs)
        }
    ]
