/// Keras's classic recurrent MNIST: each digit is read as a sequence of 28 steps, one row of 28 pixels per step, by an
/// LSTM(128) whose last output feeds a softmax over the ten classes. Trained with Keras's compile/fit on the real digits
/// in data/mnist (8,000 to train, 2,000 held out, the main job's split) and evaluated on the held-out ones; the exit code
/// is non-zero below 0.97 accuracy. The LSTM runs libtorch's fused kernel (Keras's fast-path conditions hold).
/// Usage: dotnet run --project examples/MnistLstm -c Release [-- --epochs N] [--data DIR]
module Functional.Examples.MnistLstm

open System
open System.Diagnostics
open System.IO
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Data
open Functional.Torch.Data
open Functional.FSharp
open Functional.Torch
open Functional.Torch.Building
open Functional.Training
open Functional.Torch.Data
open Functional.Torch.Training

let usage = "Usage: dotnet run --project examples/MnistLstm -c Release [-- --epochs N] [--dropout RATE] [--data DIR]\n"

let rec private parse (argv: string list) (epochs: int, dropout: float, data: string option) =
    match argv with
    | [] -> Ok(epochs, dropout, data)
    | "--epochs" :: n :: rest ->
        match Int32.TryParse n with
        | true, e when e > 0 -> parse rest (e, dropout, data)
        | _ -> Error(sprintf "--epochs takes a positive integer; received '%s'." n)
    | "--dropout" :: r :: rest ->
        match Double.TryParse(r, Globalization.NumberStyles.Float, Globalization.CultureInfo.InvariantCulture) with
        | true, d when d >= 0.0 && d < 1.0 -> parse rest (epochs, d, data)
        | _ -> Error(sprintf "--dropout takes a rate in [0, 1); received '%s'." r)
    | "--data" :: dir :: rest -> parse rest (epochs, dropout, Some dir)
    | other :: _ -> Error(sprintf "unknown argument '%s'." other)

let train (epochs: int) (dropout: float) (dataDir: string) =
    let digits = DigitSet.Load dataDir
    // Keras's example: LSTM(128) over (28 steps, 28 pixels), then Dense(10, softmax). The images come as (28, 28, 1).
    let model =
        Model.input [ 28; 28; 1 ]
        |> Model.add (Layers.reshape (IntTuple(28, 28)))
        |> Model.add (Layers.lstm (128, dropout = dropout))
        |> Model.add (Layers.dense (10, activation = "softmax"))
    printf "%s" (Model.summary model)
    let struct (trainSet, testSet) = digits.Split(8000, seed = 42)
    printfn "Data: %d training and %d held-out digits from %s" trainSet.Count testSet.Count dataDir
    torch.manual_seed 42L |> ignore
    use net = Model.build model
    use xTrain = DigitTensors.Images trainSet
    use yTrain = DigitTensors.Labels trainSet
    use xTest = DigitTensors.Images testSet
    use yTest = DigitTensors.Labels testSet
    let compiled = net.Compile(Adam(), SparseCategoricalCrossentropy(), [| "accuracy" |])
    let clock = Stopwatch.StartNew()
    compiled.Fit(xTrain, yTrain, batchSize = 32, epochs = epochs, validationSplit = 0.1) |> ignore
    let seconds = clock.Elapsed.TotalSeconds
    let result = compiled.Evaluate(xTest, yTest, batchSize = 256, verbose = Verbose 0)
    let accuracy = result.["accuracy"]
    printfn "Test accuracy on %d held-out digits: %.4f (loss %.4f; %.1fs training, %d epochs)" testSet.Count accuracy result.["loss"] seconds epochs
    if accuracy < 0.97 then 1 else 0

[<EntryPoint>]
let main argv =
    if argv |> Array.exists (fun a -> a = "--help" || a = "-h") then
        printf "%s" usage
        0
    else
        match parse (List.ofArray argv) (12, 0.0, None) with
        | Error message ->
            eprintfn "mnist-lstm: %s Run with --help for the options." message
            2
        | Ok(epochs, dropout, data) ->
            let dir =
                match data with
                | Some d -> Ok d
                | None ->
                    try Ok(DigitSet.FindRepositoryData "mnist")
                    with :? DirectoryNotFoundException as e -> Error(e.Message + " Pass --data DIR.")
            match dir with
            | Error message ->
                eprintfn "mnist-lstm: %s" message
                2
            | Ok dir -> train epochs dropout dir
