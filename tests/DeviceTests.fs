/// Models, data, metrics and checkpoints across devices. One round trip — train on one device from host data, compare
/// with a CPU twin (loss, metrics, validation, evaluate, predict), a bad label on device tensors, then a checkpoint and
/// a weights file moved to another device and training resumed there — runs CPU→CPU in every run, and CPU↔CUDA where a
/// GPU is visible (those cases skip cleanly without one).
module Functional.Tests.DeviceTests

open System
open System.IO
open System.Collections.Generic
open Expecto
open TorchSharp
open Functional.Torch
open Functional.Torch.Building
open Functional.Torch.Native
open Functional.Training
open Functional.Torch.Data
open Functional.Torch.Training
open Functional.Torch.Formats
open Functional.Torch.Saving
open Functional.Tests.Support
open Functional.Tests.LossTests
open Functional.Tests.TrainingTests
open Functional.Tests.SavingTests

let private compile (net: BuiltNetwork) =
    net.Compile(Adam(learningRate = 0.01), SparseCategoricalCrossentropy(), [| "accuracy" |])

let private expectCloseWeights tol (a: (string * torch.Tensor) list) (b: (string * torch.Tensor) list) what =
    Expect.equal (List.map fst a) (List.map fst b) (what + ": names")
    for (n, x), (_, y) in List.zip a b do
        Expect.isTrue (x.allclose(y, rtol = tol, atol = tol)) (sprintf "%s: %s" what n)

/// The round trip. `tol` is 0-ish when both devices compute the same way (CPU/CPU), looser across CPU and CUDA kernels.
let roundTrip (trainOn: Device) (resumeOn: Device) (tol: float) =
    withTemp (fun dir ->
        torchReady 61
        let x, y = toyData 48 61                       // host tensors, as users hold data
        let classWeight = Dictionary<int, float>(dict [ 0, 1.0; 1, 2.0; 2, 0.5 ]) :> IReadOnlyDictionary<int, float>
        // Across CPU and CUDA kernels a near-tie may flip one prediction: accuracies then differ by one sample.
        let accTol = if tol > 0.0 then 0.1 else 1e-9
        use reference = BuiltNetwork.Build(mlp ())       // the CPU twin
        use net = BuiltNetwork.Build(mlp (), trainOn)
        let refModel = compile reference
        let model = compile net
        model.SetWeights(refModel.GetWeights())        // snapshots are host copies: CPU → device
        expectCloseWeights 0.0 (weightsOf net) (weightsOf reference) "the same start"
        Expect.isTrue (net.Weights |> Seq.forall (fun w -> w.Parameter.device_type = (if trainOn.Type = DeviceType.CUDA then DeviceType.CUDA else DeviceType.CPU)))
            "the weights live on the training device"

        // fit from host data, with a validation split and class weights: the same curves as on the CPU.
        let fit (m: CompiledModel) = m.Fit(x, y, batchSize = 8, epochs = 2, shuffle = false, validationSplit = 0.25, classWeight = classWeight, verbose = quiet)
        let hRef = fit refModel
        let h = fit model
        for key in [ "loss"; "accuracy"; "val_loss"; "val_accuracy" ] do
            let t = if key.EndsWith "accuracy" then accTol else max tol 1e-9
            List.iteri2 (fun i a b -> close t a b (sprintf "%s, epoch %d" key (i + 1))) (List.ofSeq h.[key]) (List.ofSeq hRef.[key])

        // evaluate (metrics accumulate from device tensors) and predict (returns host tensors).
        let e = model.Evaluate(x, y, batchSize = 16, verbose = quiet)
        let eRef = refModel.Evaluate(x, y, batchSize = 16, verbose = quiet)
        close (max tol 1e-9) e.["loss"] eRef.["loss"] "evaluate loss"
        close accTol e.["accuracy"] eRef.["accuracy"] "evaluate accuracy"
        use p = model.Predict(x, batchSize = 16)
        use pRef = refModel.Predict(x, batchSize = 16)
        Expect.equal p.device_type DeviceType.CPU "predict returns host tensors"
        Expect.isTrue (p.allclose(pRef, rtol = max tol 1e-6, atol = max tol 1e-6)) "the same predictions"

        // Data already on the device: nothing is copied, and the result is the same.
        let place (t: torch.Tensor) = if trainOn.Type = DeviceType.CUDA then t.cuda() else t.clone()
        use xd = place x
        use yd = place y
        let logs = model.TrainOnBatch(xd, yd)
        let logsRef = refModel.TrainOnBatch(x, y)
        close (max tol 1e-9) logs.["loss"] logsRef.["loss"] "train_on_batch with device data"
        close accTol logs.["accuracy"] logsRef.["accuracy"] "its accuracy"

        // A label out of range on device tensors is a clear managed error raised before anything changes (on CUDA, not a
        // device-side assert), and the model keeps working.
        let before = weightsOf net
        use bad = place (y.clone().index_fill_(0L, torch.tensor([| 5L |]), (7L).ToScalar()))
        throwsWith<ArgumentException> [ "SparseCategoricalCrossentropy"; "[0, 3)"; "7" ] (fun () -> model.TrainOnBatch(xd, bad) |> ignore)
        expectCloseWeights 0.0 (weightsOf net) before "a rejected batch changes no weight"

        // Checkpoint on the training device → model on the resume device (other random weights), then one more epoch on
        // both sides from the same state: the resumed run continues the CPU twin's.
        let ckpt = Path.Combine(dir, "ckpt.safetensors")
        model.SaveCheckpoint(ckpt, 2)
        torch.manual_seed 5L |> ignore
        use resumed = BuiltNetwork.Build(mlp (), resumeOn)
        let resumedModel = compile resumed
        let epoch = resumedModel.LoadCheckpoint ckpt
        Expect.equal epoch 2 "the completed epochs come back"
        Expect.equal resumedModel.Optimizer.Iterations model.Optimizer.Iterations "the step count comes back"
        expectCloseWeights 0.0 (weightsOf resumed) (weightsOf net) "checkpoint weights"
        let more (m: CompiledModel) = m.Fit(x, y, batchSize = 8, epochs = 3, initialEpoch = 2, shuffle = false, verbose = quiet)
        let hResumed = more resumedModel
        let hMore = more refModel
        close (max tol 1e-9) hResumed.["loss"].[0] hMore.["loss"].[0] "the resumed epoch's loss"
        expectCloseWeights (max (10.0 * tol) 1e-6) (weightsOf resumed) (weightsOf reference) "weights after the resumed epoch"

        // Weights-only files move across devices too.
        let weights = Path.Combine(dir, "w.safetensors")
        net.SaveWeights weights
        resumed.LoadWeights weights
        expectCloseWeights 0.0 (weightsOf resumed) (weightsOf net) "weights file")

[<Tests>]
let tests =
    testSequenced <| testList "Devices" [
        test "models, data, metrics and checkpoints round-trip CPU → CPU (the same path CUDA takes)" {
            roundTrip Device.Cpu Device.Cpu 0.0
        }
    ]

/// Needs a CUDA device; skips cleanly without one.
[<Tests>]
let cudaTests =
    testSequenced <| testList "CUDA" [
        test "models, data, metrics and checkpoints round-trip CUDA → CPU" {
            if not (LibTorch.CudaAvailable()) then skiptest "no CUDA device"
            roundTrip (Device.Cuda()) Device.Cpu 2e-3
        }
        test "models, data, metrics and checkpoints round-trip CPU → CUDA" {
            if not (LibTorch.CudaAvailable()) then skiptest "no CUDA device"
            roundTrip Device.Cpu (Device.Cuda()) 2e-3
        }
    ]
