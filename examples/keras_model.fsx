// A model trained in Python Keras, used from .NET: load the file Keras wrote, check that it predicts what Keras predicted,
// fine-tune it for one epoch on real digits, save it as a Keras 3 `.keras` archive (architecture, weights, compile config,
// Adam's state) and load that back. The Keras file is a fixture in ../shared/keras-fixtures/ (outside the repository);
// where it is absent the script says so and stops. After one build (`dotnet build`), run:  dotnet fsi examples/keras_model.fsx
#load "../dsl/Functional.fsx"

open System
open System.IO
open System.Text.Json
open TorchSharp
open Functional.Data
open Functional.Layers
open Functional.Models
open Functional.Torch.Building
open Functional.Torch.Data
open Functional.Torch.Training

let root = Path.GetFullPath(Path.Combine(__SOURCE_DIRECTORY__, ".."))
let folder = Path.GetFullPath(Path.Combine(root, "..", "shared", "keras-fixtures", "dl4j-mlp-softmax"))
let kerasFile = Path.Combine(folder, "simple_sparse_xent_mlp_keras_2_model.h5")

if not (File.Exists kerasFile) then
    // The same architecture declared here, so the script still shows what it would load.
    printf "%s" (Sequential([| Input(4) :> Layer; Dense(3); Activation("softmax") |]).Summary())
    printfn "The Keras-written model is not at %s (the fixtures live in shared/, next to the repository); nothing to load." kerasFile
    exit 0

let run () =
    // 1. Keras 2.3.1's model.save("….h5"): a Dense(3) softmax classifier over 4 features, trained in Python.
    use keras = ModelFile.Load kerasFile
    printf "%s" (keras.Declaration.Summary())

    // 2. Keras's own predictions, stored next to the file (expected_io.json): ours must agree.
    let expectedIo = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "expected_io.json"))).RootElement
    let rec flat (e: JsonElement) : float32 list =
        if e.ValueKind = JsonValueKind.Array then [ for x in e.EnumerateArray() do yield! flat x ] else [ float32 (e.GetDouble()) ]
    let shape = [| for d in expectedIo.GetProperty("input_shape").EnumerateArray() -> d.GetInt64() |]
    use storedInput = torch.tensor(Array.ofList (flat (expectedIo.GetProperty "input"))).reshape(shape)
    use storedOutput = torch.tensor(Array.ofList (flat (expectedIo.GetProperty "expected_output"))).reshape(-1L, 3L)
    use predicted = keras.Predict storedInput
    let difference = (predicted - storedOutput).abs().max().item<float32>()
    printfn "Keras's stored predictions for %d inputs: largest difference %.2g" shape.[0] difference
    if difference > 1e-5f then failwithf "the loaded model does not predict what Keras predicted (difference %g)" difference

    // 3. Real data of the model's shape: MNIST digits 0, 1 and 2 (data/mnist), each image averaged over its four 14×14
    //    quarters — 4 features, 3 classes.
    let digits = DigitSet.Load(Path.Combine(root, "data", "mnist"))
    let keep = [| for i in 0 .. digits.Count - 1 do if digits.Labels.[i] < 3uy then yield i |]
    let subset = DigitSet(keep |> Array.collect (fun i -> digits.Images.[i * 784 .. i * 784 + 783]), keep |> Array.map (fun i -> digits.Labels.[i]), keep.Length)
    let struct (train, test) = subset.Split(subset.Count * 4 / 5, seed = 7)
    let quarters (set: DigitSet) =
        use images = DigitTensors.Images set
        images.reshape(int64 set.Count, 2L, 14L, 2L, 14L).mean([| 2L; 4L |]).reshape(int64 set.Count, 4L)
    use xTrain = quarters train
    use yTrain = DigitTensors.Labels train
    use xTest = quarters test
    use yTest = DigitTensors.Labels test
    printfn "Digits 0-2: %d to fine-tune on, %d held out" train.Count test.Count

    // 4. Fine-tune one epoch with Keras's compile/fit (Adam, integer labels).
    torch.manual_seed 7L |> ignore
    let compiled = keras.Compile(Adam(learningRate = 0.05), SparseCategoricalCrossentropy(), [| "accuracy" |])
    let before = compiled.Evaluate(xTest, yTest, verbose = Verbose 0)
    compiled.Fit(xTrain, yTrain, batchSize = 32, epochs = 1, verbose = Verbose 0) |> ignore
    let after = compiled.Evaluate(xTest, yTest, verbose = Verbose 0)
    printfn "Held-out accuracy: %.3f before fine-tuning, %.3f after one epoch (loss %.3f -> %.3f)" before.["accuracy"] after.["accuracy"] before.["loss"] after.["loss"]

    // 5. One file, as Keras 3 writes it, and back: the same predictions, the optimizer where it stopped.
    let saved = Path.Combine(Path.GetTempPath(), sprintf "digits-%s.keras" (Guid.NewGuid().ToString("N")))
    keras.Save saved
    use reloaded = ModelFile.Load saved
    use p1 = keras.Predict xTest
    use p2 = reloaded.Predict xTest
    let same = (p1 - p2).abs().max().item<float32>() = 0.0f
    let optimizer = reloaded.GetCompiled().Optimizer
    printfn "Saved %s (%d bytes) and loaded it back: identical predictions %b; %s at step %d, learning rate %g" (Path.GetFileName saved) (FileInfo(saved).Length) same optimizer.ClassName optimizer.Iterations optimizer.LearningRate
    File.Delete saved
    if not same then failwith "the reloaded model predicts differently"

run ()
