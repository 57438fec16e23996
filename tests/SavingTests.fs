/// Weights as safetensors: round trips, Keras names and layouts, rejection of bad files, checkpoints that resume training.
module Functional.Tests.SavingTests

open System
open System.IO
open System.Text
open Expecto
open TorchSharp
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Training
open Functional.Saving
open Functional.Tests.Support
open Functional.Tests.LossTests
open Functional.Tests.TrainingTests

let smallCnn () =
    Sequential(Input(8, 8, 1), Conv2D(4, (3, 3), padding = "same", activation = "relu"), MaxPooling2D((2, 2)), Flatten(), Dense(3, activation = "softmax"))

let withTemp (f: string -> unit) =
    let dir = Path.Combine(Path.GetTempPath(), "functional-save-" + Guid.NewGuid().ToString "N")
    Directory.CreateDirectory dir |> ignore
    try f dir finally Directory.Delete(dir, true)

let savedCnn (dir: string) =
    torchReady 30
    use net = BuiltModel.Build(smallCnn ())
    let path = Path.Combine(dir, "cnn.safetensors")
    net.SaveWeights path
    path

[<Tests>]
let tests =
    testSequenced <| testList "Saving" [
        test "save → load → predict gives identical outputs" {
            withTemp (fun dir ->
                torchReady 31
                use x = torch.rand(5L, 8L, 8L, 1L)
                use a = BuiltModel.Build(smallCnn ())
                let path = Path.Combine(dir, "a.safetensors")
                a.SaveWeights path
                torch.manual_seed 1234L |> ignore
                use b = BuiltModel.Build(smallCnn ())
                use before = b.Predict(x)
                b.LoadWeights path
                use pa = a.Predict(x)
                use pb = b.Predict(x)
                Expect.isFalse (same pa before) "a different model before loading"
                Expect.isTrue (same pa pb) "identical after loading")
        }

        test "files use Keras's weight names and layouts (a Conv2D kernel is (kh, kw, in, out)) and hold no code" {
            withTemp (fun dir ->
                let file = SafeTensors.Read(savedCnn dir)
                let shapes = file.Tensors |> Seq.map (fun t -> t.Name, List.ofArray t.Shape) |> Map.ofSeq
                Expect.equal shapes.["conv2d/kernel"] [ 3L; 3L; 1L; 4L ] "Keras layout"
                Expect.equal shapes.["conv2d/bias"] [ 4L ] "bias"
                Expect.equal shapes.["dense/kernel"] [ 64L; 3L ] "dense"
                Expect.equal file.Metadata.["format"] "functional-weights" "metadata"
                Expect.isTrue (file.Tensors |> Seq.forall (fun t -> t.DType = "F32")) "plain float32 data")
        }

        test "a truncated file is rejected, naming the file and what is missing" {
            withTemp (fun dir ->
                let path = savedCnn dir
                let bytes = File.ReadAllBytes path
                use net = BuiltModel.Build(smallCnn ())
                for cut in [ 4; 200; bytes.Length - 10 ] do
                    let p = Path.Combine(dir, sprintf "cut%d.safetensors" cut)
                    File.WriteAllBytes(p, bytes.[0 .. cut - 1])
                    throwsWith<InvalidDataException> [ p; "truncated" ] (fun () -> net.LoadWeights p))
        }

        test "corrupt files are rejected with clear messages: header bytes, data bytes, lengths, not safetensors at all" {
            withTemp (fun dir ->
                let path = savedCnn dir
                let bytes = File.ReadAllBytes path
                use net = BuiltModel.Build(smallCnn ())
                let write name (b: byte[]) = let p = Path.Combine(dir, name) in File.WriteAllBytes(p, b); p
                // A flipped data byte: the recorded SHA-256 no longer matches.
                let flipped = Array.copy bytes
                flipped.[bytes.Length - 5] <- flipped.[bytes.Length - 5] ^^^ 0xFFuy
                throwsWith<InvalidDataException> [ "SHA-256" ] (fun () -> net.LoadWeights(write "flip.safetensors" flipped))
                // Damaged JSON.
                let badJson = Array.copy bytes
                badJson.[9] <- byte '#'
                throwsWith<InvalidDataException> [ "corrupt header" ] (fun () -> net.LoadWeights(write "json.safetensors" badJson))
                // A header length far beyond the file.
                let huge = Array.copy bytes
                BitConverter.GetBytes(5_000_000_000UL).CopyTo(huge, 0)
                throwsWith<InvalidDataException> [ "header length" ] (fun () -> net.LoadWeights(write "len.safetensors" huge))
                // Bytes appended after the last tensor.
                throwsWith<InvalidDataException> [ "belong to no tensor" ] (fun () -> net.LoadWeights(write "extra.safetensors" (Array.append bytes [| 1uy; 2uy; 3uy |])))
                // Not a safetensors file at all (a pickle starts with 0x80).
                throwsWith<InvalidDataException> [ "not a safetensors file" ] (fun () ->
                    net.LoadWeights(write "pickle.bin" (Array.append [| 0x80uy; 0x04uy; 0x95uy |] (Array.create 64 0x41uy))))
                // A hand-made header whose offsets disagree with the dtype and shape.
                let header = """{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"""
                let h = Encoding.UTF8.GetBytes header
                let forged = Array.concat [ BitConverter.GetBytes(uint64 h.Length); h; Array.zeroCreate 12 ]
                throwsWith<InvalidDataException> [ "'w'"; "(2, 2)"; "16 bytes"; "span 12" ] (fun () -> SafeTensors.Parse(forged, "forged") |> ignore))
        }

        test "mismatched weights are rejected before anything changes, naming the weight and both shapes" {
            withTemp (fun dir ->
                torchReady 32
                use small = BuiltModel.Build(Sequential(Input(4), Dense(8), Dense(3)))
                let path = Path.Combine(dir, "small.safetensors")
                small.SaveWeights path
                use wider = BuiltModel.Build(Sequential(Input(4), Dense(9), Dense(3)))
                let before = weightsOf wider
                throwsWith<InvalidDataException> [ "'dense/kernel'"; "(4, 8)"; "(4, 9)" ] (fun () -> wider.LoadWeights path)
                Expect.isTrue (sameWeights (weightsOf wider) before) "nothing was written"
                use deeper = BuiltModel.Build(Sequential(Input(4), Dense(8), Dense(3), Dense(2)))
                throwsWith<InvalidDataException> [ "lacks"; "'dense_2/kernel'" ] (fun () -> deeper.LoadWeights path)
                use shallower = BuiltModel.Build(Sequential(Input(4), Dense(8)))
                throwsWith<InvalidDataException> [ "does not have"; "'dense_1/kernel'" ] (fun () -> shallower.LoadWeights path)
                throwsWith<FileNotFoundException> [ "no-such" ] (fun () -> small.LoadWeights(Path.Combine(dir, "no-such.safetensors"))))
        }

        test "a checkpoint with the optimizer's state resumes training: the loss curve continues as if never stopped" {
            withTemp (fun dir ->
                let x, y = toyData 32 33
                let train (seed: int64) (epochs: int) (initial: int) (resumeFrom: string option) (saveTo: string option) =
                    torch.manual_seed seed |> ignore
                    use net = BuiltModel.Build(mlp ())
                    let model = net.Compile(Adam(learningRate = 0.01), SparseCategoricalCrossentropy(), [| "accuracy" |])
                    let start = match resumeFrom with Some p -> model.LoadCheckpoint p | None -> initial
                    let h = model.Fit(x, y, batchSize = 8, epochs = epochs, initialEpoch = start, shuffle = false, verbose = quiet)
                    saveTo |> Option.iter (fun p -> model.SaveCheckpoint(p, epochs))
                    List.ofSeq h.["loss"], model.Optimizer.Iterations
                let straight, _ = train 77L 6 0 None None
                let ckpt = Path.Combine(dir, "ckpt.safetensors")
                let firstHalf, _ = train 77L 3 0 None (Some ckpt)
                // The resumed model starts from other random weights; the checkpoint replaces them and the optimizer state.
                let secondHalf, iterations = train 5L 6 0 (Some ckpt) None
                Expect.equal firstHalf straight.[0..2] "first half"
                Expect.equal secondHalf.Length 3 "epochs 4 to 6"
                List.iteri2 (fun i a b -> close 1e-6 a b (sprintf "epoch %d continues" (i + 4))) secondHalf straight.[3..5]
                Expect.equal iterations 24L "the step count continued (6 epochs × 4 steps)")
        }

        test "a checkpoint is refused by a model compiled with another optimizer, and weights-only files are not checkpoints" {
            withTemp (fun dir ->
                torchReady 34
                use net = BuiltModel.Build(mlp ())
                let model = net.Compile(Adam(), SparseCategoricalCrossentropy())
                let ckpt = Path.Combine(dir, "c.safetensors")
                model.SaveCheckpoint(ckpt, 1)
                use other = BuiltModel.Build(mlp ())
                let sgd = other.Compile(SGD(momentum = 0.9), SparseCategoricalCrossentropy())
                throwsWith<InvalidDataException> [ "Adam"; "SGD" ] (fun () -> sgd.LoadCheckpoint ckpt |> ignore)
                let weights = Path.Combine(dir, "w.safetensors")
                net.SaveWeights weights
                throwsWith<InvalidDataException> [ "not a training checkpoint" ] (fun () -> model.LoadCheckpoint weights |> ignore)
                // LoadWeights accepts a checkpoint's weights.
                other.LoadWeights ckpt
                Expect.isTrue (sameWeights (weightsOf other) (weightsOf net)) "weights from a checkpoint")
        }
    ]
