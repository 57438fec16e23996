/// Callbacks do what they say: early stopping, checkpoints, schedulers, plateau, NaN, CSV, lambdas, custom callbacks.
module Functional.Tests.CallbackTests

open System
open System.IO
open Expecto
open TorchSharp
open Functional.Layers
open Functional.Torch.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Training
open Functional.Torch.Data
open Functional.Torch.Training
open Functional.Torch.Formats
open Functional.Torch.Saving
open Functional.Tests.Support
open Functional.Tests.LossTests
open Functional.Tests.TrainingTests

/// A callback that writes a scripted value under `name` into each epoch's logs (it must come before the watcher).
let scripted (name: string) (values: float list) =
    LambdaCallback(onEpochEnd = Action<int, Collections.Generic.IDictionary<string, float>>(fun epoch logs -> logs.[name] <- values.[epoch]))

let tempDir () =
    let d = Path.Combine(Path.GetTempPath(), "functional-cb-" + Guid.NewGuid().ToString "N")
    Directory.CreateDirectory d |> ignore
    d

type CountingCallback() =
    inherit Callback()
    member val Batches = 0 with get, set
    member val Epochs = 0 with get, set
    override this.OnTrainBatchEnd(_, _) = this.Batches <- this.Batches + 1
    override this.OnEpochEnd(_, _) = this.Epochs <- this.Epochs + 1

[<Tests>]
let tests =
    testSequenced <| testList "Callbacks" [
        test "EarlyStopping stops after `patience` epochs without improvement and restores the best epoch's weights" {
            torchReady 20
            let x, y = toyData 16 20
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(Adam(learningRate = 0.05), SparseCategoricalCrossentropy())
            let snapshots = Collections.Generic.List<(string * torch.Tensor) list>()
            let keep = LambdaCallback(onEpochEnd = Action<int, Collections.Generic.IDictionary<string, float>>(fun _ _ -> snapshots.Add(weightsOf net)))
            let stop = EarlyStopping(monitor = "score", patience = 2, restoreBestWeights = true)
            let h = model.Fit(x, y, batchSize = 8, epochs = 20, verbose = quiet,
                              callbacks = [ scripted "score" [ 1.0; 0.5; 0.7; 0.8; 0.9; 0.1 ] :> Callback; keep; stop ])
            Expect.equal (List.ofSeq h.Epochs) [ 0; 1; 2; 3 ] "stopped at epoch 3 (best at 1, then 2 epochs of patience)"
            Expect.equal stop.StoppedEpoch 3 "stopped epoch"
            Expect.equal stop.BestEpoch 1 "best epoch"
            Expect.isTrue (sameWeights (weightsOf net) snapshots.[1]) "weights of epoch 1 restored"
            Expect.isFalse (sameWeights snapshots.[3] snapshots.[1]) "training had moved on"
        }

        test "EarlyStopping with min_delta and mode max (accuracy-like monitors maximise)" {
            torchReady 21
            let x, y = toyData 8 21
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(Adam(), SparseCategoricalCrossentropy())
            let stop = EarlyStopping(monitor = "val_acc_like", patience = 1, minDelta = 0.05)
            let h = model.Fit(x, y, epochs = 10, verbose = quiet,
                              callbacks = [ scripted "val_acc_like" [ 0.5; 0.52; 0.54; 0.9; 0.9 ] :> Callback; stop ])
            // "acc" in the name → maximise; +0.02 is below min_delta, so epoch 1 already exhausts patience 1.
            Expect.equal (List.ofSeq h.Epochs) [ 0; 1 ] "stopped at epoch 1"
        }

        test "ModelCheckpoint with save_best_only writes only improving epochs, and the file holds that epoch's weights" {
            torchReady 22
            let x, y = toyData 16 22
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(Adam(learningRate = 0.05), SparseCategoricalCrossentropy())
            let dir = tempDir ()
            try
                let snapshots = Collections.Generic.List<(string * torch.Tensor) list>()
                let keep = LambdaCallback(onEpochEnd = Action<int, Collections.Generic.IDictionary<string, float>>(fun _ _ -> snapshots.Add(weightsOf net)))
                let ckpt = ModelCheckpoint(Path.Combine(dir, "w-{epoch:02d}-{score:.2f}.safetensors"), monitor = "score", saveBestOnly = true, saveWeightsOnly = true)
                model.Fit(x, y, batchSize = 8, epochs = 5, verbose = quiet,
                          callbacks = [ scripted "score" [ 0.9; 0.4; 0.6; 0.3; 0.35 ] :> Callback; keep; ckpt ]) |> ignore
                Expect.equal (ckpt.Saved |> Seq.map Path.GetFileName |> List.ofSeq)
                    [ "w-01-0.90.safetensors"; "w-02-0.40.safetensors"; "w-04-0.30.safetensors" ] "improving epochs only"
                use other = BuiltNetwork.Build(mlp ())
                other.LoadWeights(ckpt.Saved.[2])
                Expect.isTrue (sameWeights (weightsOf other) snapshots.[3]) "the best epoch's weights"
            finally
                Directory.Delete(dir, true)
        }

        test "LearningRateScheduler sets the rate each epoch and logs it" {
            torchReady 23
            let x, y = toyData 8 23
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(SGD(), SparseCategoricalCrossentropy())
            let seen = Collections.Generic.List<float>()
            let probe = LambdaCallback(onEpochBegin = Action<int, Collections.Generic.IDictionary<string, float>>(fun _ _ -> seen.Add model.Optimizer.LearningRate))
            let sched = LearningRateScheduler(Func<int, float, float>(fun epoch lr -> if epoch = 0 then 0.1 else lr * 0.5))
            let h = model.Fit(x, y, epochs = 3, verbose = quiet, callbacks = [ sched :> Callback; probe ])
            Expect.equal (List.ofSeq seen) [ 0.1; 0.05; 0.025 ] "set at each epoch start"
            Expect.equal (List.ofSeq h.["learning_rate"]) [ 0.1; 0.05; 0.025 ] "logged"
        }

        test "ReduceLROnPlateau multiplies the rate by `factor` after `patience` epochs without improvement" {
            torchReady 24
            let x, y = toyData 8 24
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(SGD(learningRate = 0.1), SparseCategoricalCrossentropy())
            let plateau = ReduceLROnPlateau(monitor = "score", factor = 0.5, patience = 1)
            let h = model.Fit(x, y, epochs = 4, verbose = quiet, callbacks = [ scripted "score" [ 1.0; 1.0; 1.0; 0.5 ] :> Callback; plateau ])
            // Logged before the epoch's decision, as Keras does.
            Expect.sequenceEqual h.["learning_rate"] [ 0.1; 0.1; 0.05; 0.025 ] "logged rates"
            close 1e-12 model.Optimizer.LearningRate 0.025 "epoch 3 improved: no further reduction"
            throwsWith<ArgumentException> [ "factor >= 1.0" ] (fun () -> ReduceLROnPlateau(factor = 1.5) |> ignore)
        }

        test "TerminateOnNaN stops at the first batch whose loss is not finite" {
            torchReady 25
            let x, y = toyData 32 25
            x.[10L, 0L] <- torch.tensor(Double.NaN, torch.ScalarType.Float32)
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(SGD(), SparseCategoricalCrossentropy())
            let nan = TerminateOnNaN()
            let counter = CountingCallback()
            let h = model.Fit(x, y, batchSize = 8, epochs = 5, shuffle = false, verbose = quiet, callbacks = [ nan :> Callback; counter ])
            Expect.equal nan.TerminatedAtBatch (Nullable 1) "sample 10 is in batch 1"
            Expect.equal counter.Batches 2 "no batch after it"
            Expect.equal h.Epochs.Count 1 "one epoch"
        }

        test "CSVLogger writes a header and a row per epoch; custom callbacks and lambdas see every hook" {
            torchReady 26
            let x, y = toyData 20 26
            use net = BuiltNetwork.Build(mlp ())
            let model = net.Compile(Adam(), SparseCategoricalCrossentropy(), [| "accuracy" |])
            let dir = tempDir ()
            try
                let file = Path.Combine(dir, "log.csv")
                let counter = CountingCallback()
                let mutable began = 0
                let lambda = LambdaCallback(onTrainBegin = Action<Collections.Generic.IDictionary<string, float>>(fun _ -> began <- began + 1))
                model.Fit(x, y, batchSize = 5, epochs = 3, verbose = quiet, validationSplit = 0.2, callbacks = [ CSVLogger(file) :> Callback; counter; lambda ]) |> ignore
                let lines = File.ReadAllLines file
                Expect.equal lines.[0] "epoch,accuracy,loss,val_accuracy,val_loss" "header"
                Expect.equal lines.Length 4 "three rows"
                Expect.stringStarts lines.[3] "2," "epoch column"
                Expect.equal (counter.Batches, counter.Epochs, began) (12, 3, 1) "hooks called"
            finally
                Directory.Delete(dir, true)
        }
    ]
