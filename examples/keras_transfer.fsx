// A model trained in Python Keras, used from .NET: KotlinDL's "toy ResNet" (the Keras functional-API guide's network,
// trained with tf.keras 2.2.4 on Fashion-MNIST; a JSON config and a save_weights HDF5 file, Apache-2.0, kept in
// ../shared/keras-fixtures/, outside the repository). The script
//   1. reads the architecture and Keras's weights, prints the summary and checks Keras's predictions on real
//      Fashion-MNIST articles (data/fashion-mnist);
//   2. declares a feature extractor from its layers (Keras's `Model(m.input, m.get_layer(...).output)`) with a new
//      head for MNIST digits, and fine-tunes it for one epoch on real digits (data/mnist);
//   3. saves the fine-tuned model as a Keras 3 `.keras` archive and reads it back (examples/keras_model.fsx does the
//      same for a whole Keras .h5 model, checked against Keras's stored predictions).
// After one build (`dotnet build`), run:  dotnet fsi examples/keras_transfer.fsx   (the suite runs it too)
#load "../dsl/Functional.fsx"

open System
open System.Diagnostics
open System.IO
open TorchSharp
open Functional
open Functional.Layers
open Functional.Models
open Functional.Data
open Functional.Torch.Building
open Functional.Torch.Data
open Functional.Torch.Saving
open Functional.Torch.Training

let fixture = Path.GetFullPath(Path.Combine(__SOURCE_DIRECTORY__, "..", "..", "shared", "keras-fixtures", "kotlindl-toyresnet"))
if not (Directory.Exists fixture) then
    printfn "The Keras-written model is not here (%s lives in shared/, outside the repository): nothing to do." fixture
else
    let clock = Stopwatch.StartNew()
    // 1. Keras's JSON (model.to_json()) and its weights file (save_weights), bound at build time.
    let declared =
        (ModelConfig.FromJson(File.ReadAllText(Path.Combine(fixture, "modelConfig.json"))) :?> Model)
            .WithWeightsFile(Path.Combine(fixture, "weights.h5"))
    printf "%s" (declared.Summary())
    let struct (fashion, _) = DigitSet.Load(DigitSet.FindRepositoryData("fashion-mnist", __SOURCE_DIRECTORY__)).Split(2000, seed = 1)
    use pretrained = BuiltNetwork.Build declared
    use images = DigitTensors.Images fashion      // (n, 28, 28, 1) in [0, 1], as KotlinDL trained it
    use labels = DigitTensors.Labels fashion
    use logits = pretrained.Predict(images, batchSize = 500)
    use predicted = logits.argmax(1L)
    let fashionAccuracy = predicted.eq(labels).to_type(torch.float32).mean().item<float32>()
    printfn "Keras's weights on %d real Fashion-MNIST articles: accuracy %.4f" fashion.Count fashionAccuracy

    // 2. Transfer learning: the Keras model up to its 256-unit hidden layer as a feature extractor (it loads Keras's
    //    weights by name when built), and a new 10-class head for digits. `.WithTrainable false` would freeze it and
    //    train the head alone; here the whole network is fine-tuned at a small learning rate.
    let features = Model(declared.Input, declared.GetLayer("dense_6").Output, name = "toy_resnet_features")
    let x = Graph.Input(28, 28, 1)
    let digitsModel = Model(x, Dense(10, activation = "softmax", Name = "digit").Call(features.Call x), name = "digits_from_fashion")
    printf "%s" (digitsModel.Summary())
    let digits = DigitSet.Load(DigitSet.FindRepositoryData("mnist", __SOURCE_DIRECTORY__))
    let struct (trainSet, rest) = digits.Split(2000, seed = 7)
    let struct (testSet, _) = rest.Split(1000, seed = 8)
    torch.manual_seed 7L |> ignore
    use net = BuiltNetwork.Build digitsModel      // the extractor loads Keras's weights by name; the head is fresh
    use xTrain = DigitTensors.Images trainSet
    use yTrain = DigitTensors.Labels trainSet
    use xTest = DigitTensors.Images testSet
    use yTest = DigitTensors.Labels testSet
    let compiled = net.Compile(Adam(0.001), SparseCategoricalCrossentropy(), [| "accuracy" |])
    let before = compiled.Evaluate(xTest, yTest, batchSize = 500, verbose = Verbose 0).["accuracy"]
    compiled.Fit(xTrain, yTrain, batchSize = 32, epochs = 1, verbose = Verbose 0) |> ignore
    let after = compiled.Evaluate(xTest, yTest, batchSize = 500, verbose = Verbose 0).["accuracy"]
    printfn "Digits (Fashion-MNIST features, new head): held-out accuracy %.4f before, %.4f after one epoch on %d digits"
        before after trainSet.Count

    // 3. One Keras 3 `.keras` file (the extractor is a nested model in it; Adam's state is kept), and back.
    let saved = Path.Combine(Path.GetTempPath(), sprintf "digits-from-fashion-%s.keras" (Guid.NewGuid().ToString "N"))
    net.Save saved
    use reloaded = ModelFile.Load saved
    use p1 = net.Predict xTest
    use p2 = reloaded.Predict xTest
    let same = (p1 - p2).abs().max().item<float32>() = 0.0f
    printfn "Saved as %s (%d bytes) and read back: identical predictions %b" (Path.GetFileName saved) (FileInfo(saved).Length) same
    File.Delete saved
    if not same then failwith "the reloaded model predicts differently"
    printfn "Done in %.1f s." clock.Elapsed.TotalSeconds
