/// Keras's masks: Masking creates one, layers that support masking pass it on, merges combine it, GlobalAveragePooling1D
/// and Softmax use it, and every other layer drops it — in a Sequential and through a graph.
module Functional.Tests.MaskTests

open System
open Expecto
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Tests.Support

type G = Functional.Models.Graph

/// (batch 2, steps 4, features 3): sample 0 has steps 1 and 3 all zero (masked by Masking(0)), sample 1 has step 2.
let private sequences () =
    let data =
        [| 1.f; 2.f; 3.f;  0.f; 0.f; 0.f;  4.f; -1.f; 2.f;  0.f; 0.f; 0.f
           2.f; 2.f; 2.f;  1.f; 0.f; -3.f;  0.f; 0.f; 0.f;  5.f; 1.f; 0.f |]
    torch.tensor(data).reshape(2L, 4L, 3L)

/// The masked mean over steps, by hand: the steps whose features are not all zero.
let private maskedMean (x: float32[,,]) (keep: bool[,]) =
    Array2D.init (Array3D.length1 x) (Array3D.length3 x) (fun b f ->
        let steps = [ for t in 0 .. Array3D.length2 x - 1 do if keep[b, t] then yield x[b, t, f] ]
        List.sum steps / float32 steps.Length)

let private toArray3 (t: torch.Tensor) =
    let v = t.contiguous().data<float32>().ToArray()
    let s = t.shape
    Array3D.init (int s[0]) (int s[1]) (int s[2]) (fun i j k -> v[(i * int s[1] + j) * int s[2] + k])

let private toArray2 (t: torch.Tensor) =
    let v = t.contiguous().data<float32>().ToArray()
    let s = t.shape
    Array2D.init (int s[0]) (int s[1]) (fun i j -> v[i * int s[1] + j])

let private close (expected: float32[,]) (actual: float32[,]) what =
    for i in 0 .. Array2D.length1 expected - 1 do
        for j in 0 .. Array2D.length2 expected - 1 do
            Expect.floatClose Accuracy.medium (float actual[i, j]) (float expected[i, j]) (sprintf "%s [%d, %d]" what i j)

let private keep = array2D [ [ true; false; true; false ]; [ true; true; false; true ] ]

let tests =
    testList "Masks" [
        test "which layers support masking is Keras's" {
            for layer, expected in
                [ Dense(2) :> Layer, true; Activation("relu"), true; Dropout(0.5), true; Masking(), true; Add(), true
                  Concatenate(), true; BatchNormalization(), true; LayerNormalization(), true; GlobalAveragePooling1D(), true
                  Softmax(), true; ReLU(), true; Conv1D(2, 3), false; Flatten(), false; Reshape(IntTuple(-1)), false
                  GlobalMaxPooling1D(), false; MaxPooling1D(), false; Cropping1D(), false; RepeatVector(2), false ] do
                Expect.equal layer.SupportsMasking expected layer.ClassName
        }

        test "Masking → GlobalAveragePooling1D averages the unmasked steps only, as Keras (not 1.333 but 2)" {
            torchReady 41
            use built = BuiltNetwork.Build(Sequential(Input(3, 1), Masking(0.0), GlobalAveragePooling1D()))
            use x = torch.tensor([| 1.f; 0.f; 3.f |]).reshape(1L, 3L, 1L)
            use y = built.Predict x
            Expect.floatClose Accuracy.high (float (y.item<float32>())) 2.0 "(1 + 3) / 2"
            use x2 = sequences ()
            use built2 = BuiltNetwork.Build(Sequential(Input(4, 3), Masking(0.0), GlobalAveragePooling1D()))
            use y2 = built2.Predict x2
            close (maskedMean (toArray3 x2) keep) (toArray2 y2) "masked mean"
        }

        test "the mask passes through Dense, activations, Dropout and normalization to the pooling; a convolution drops it" {
            torchReady 42
            let keeps: Layer list = [ Dense(5, activation = "tanh", Name = "d"); ReLU(); Dropout(0.3); LayerNormalization() ]
            use kept = BuiltNetwork.Build(Sequential(Array.ofList ([ Input(4, 3) :> Layer; Masking(0.0) ] @ keeps @ [ GlobalAveragePooling1D() ])))
            use inner = BuiltNetwork.Build(Sequential(Array.ofList ([ Input(4, 3) :> Layer; Masking(0.0) ] @ keeps)))
            let file = IO.Path.Combine(IO.Path.GetTempPath(), sprintf "mask-%s.safetensors" (Guid.NewGuid().ToString("N")))
            try
                Saving.WeightFiles.SaveWeights(kept, file)
                Saving.WeightFiles.LoadWeights(inner, file)
            finally IO.File.Delete file
            use x = sequences ()
            use y = kept.Predict x
            use h = inner.Predict x
            close (maskedMean (toArray3 h) keep) (toArray2 y) "mean over the unmasked steps of the Dense/ReLU/Dropout/LayerNorm output"
            // Conv1D does not support masking: the mask is gone and the pooling averages every step.
            use dropped = BuiltNetwork.Build(Sequential(Input(4, 3), Masking(0.0), Conv1D(2, 1, Name = "c"), GlobalAveragePooling1D()))
            use convOnly = BuiltNetwork.Build(Sequential(Input(4, 3), Masking(0.0), Conv1D(2, 1, Name = "c")))
            let file = IO.Path.Combine(IO.Path.GetTempPath(), sprintf "mask-%s.safetensors" (Guid.NewGuid().ToString("N")))
            try
                Saving.WeightFiles.SaveWeights(dropped, file)
                Saving.WeightFiles.LoadWeights(convOnly, file)
            finally IO.File.Delete file
            use yc = dropped.Predict x
            use hc = convOnly.Predict x
            use plain = hc.mean([| 1L |])
            Expect.isTrue (yc.allclose(plain, rtol = 1e-5, atol = 1e-6)) "plain mean after a layer that drops the mask"
        }

        test "Masking → merge → pooling through a graph: Add ORs the masks, Concatenate on the features ORs them too" {
            torchReady 43
            let a, b = G.Input(4, 3), G.Input(4, 3)
            let ma, mb = Masking(0.0).Call(a), Masking(0.0).Call(b)
            let added = Model([ a; b ], [ GlobalAveragePooling1D().Call(Add().Call(ma, mb)) ])
            let joined = Model([ a; b ], [ GlobalAveragePooling1D().Call(Concatenate().Call(ma, mb)) ])
            let onlyOne = Model([ a; b ], [ GlobalAveragePooling1D().Call(Concatenate().Call(ma, b)) ])
            use x = sequences ()
            // The second input masks other steps: sample 0 step 0 only, sample 1 steps 1 and 2.
            use x2 = x.clone()
            x2.index_put_(torch.zeros(3), [| torch.TensorIndex.Single 0L; torch.TensorIndex.Single 0L |]) |> ignore
            x2.index_put_(torch.tensor([| 1.f; 1.f; 1.f |]), [| torch.TensorIndex.Single 0L; torch.TensorIndex.Single 1L |]) |> ignore
            x2.index_put_(torch.zeros(3), [| torch.TensorIndex.Single 1L; torch.TensorIndex.Single 1L |]) |> ignore
            let keep2 = array2D [ [ false; true; true; false ]; [ true; false; false; true ] ]
            let either = Array2D.init 2 4 (fun i j -> keep[i, j] || keep2[i, j])
            use built = BuiltNetwork.Build added
            use y = built.Predict(ResizeArray [ x; x2 ]).[0]
            use sum = x + x2
            close (maskedMean (toArray3 sum) either) (toArray2 y) "Add: mean over the steps either input keeps"
            use builtJoined = BuiltNetwork.Build joined
            use yj = builtJoined.Predict(ResizeArray [ x; x2 ]).[0]
            use cat = torch.cat([| x; x2 |], 2L)
            close (maskedMean (toArray3 cat) either) (toArray2 yj) "Concatenate(axis=-1): any over the joined features"
            use builtOne = BuiltNetwork.Build onlyOne
            use yo = builtOne.Predict(ResizeArray [ x; x2 ]).[0]
            use plain = cat.mean([| 1L |])
            Expect.isTrue (yo.allclose(plain, rtol = 1e-5, atol = 1e-6)) "an input without a mask counts as all kept"
        }

        test "BatchNormalization in training takes its batch moments over the unmasked steps (Keras's masked moments)" {
            torchReady 45
            use built = BuiltNetwork.Build(Sequential(Input(4, 3), Masking(0.0), BatchNormalization(momentum = 0.5, Name = "bn")))
            use x = sequences ()
            built.Forward([ x ], ForwardContext(true)) |> ignore
            let movingMean = built.Weights |> Seq.find (fun w -> w.Name = "bn/moving_mean")
            let mean = toArray3 x |> fun a -> Array.init 3 (fun f ->
                let values = [ for b in 0 .. 1 do for t in 0 .. 3 do if keep[b, t] then yield a[b, t, f] ]
                List.sum values / float32 values.Length)
            let got = movingMean.Parameter.data<float32>().ToArray()
            for f in 0 .. 2 do
                Expect.floatClose Accuracy.medium (float got[f]) (0.5 * float mean[f]) (sprintf "moving_mean[%d] = 0.5·0 + 0.5·masked mean" f)
        }

        test "Softmax uses the mask: masked steps are zero, the others a softmax over their features" {
            torchReady 44
            use built = BuiltNetwork.Build(Sequential(Input(4, 3), Masking(0.0), Softmax()))
            use x = sequences ()
            use y = built.Predict x
            use expected = torch.nn.functional.softmax(x, -1L)
            let yv, ev = toArray3 y, toArray3 expected
            for b in 0 .. 1 do
                for t in 0 .. 3 do
                    for f in 0 .. 2 do
                        let want = if keep[b, t] then ev[b, t, f] else 0.f
                        Expect.floatClose Accuracy.medium (float yv[b, t, f]) (float want) (sprintf "[%d, %d, %d]" b t f)
        }
    ]

[<Tests>]
let all = tests
