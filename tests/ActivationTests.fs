/// Keras 3's activation functions: names and aliases on the pure record, and every function's values against a naive
/// F# formula written from keras/src/activations/activations.py (and the torch backend for the newer ones).
module Functional.Tests.ActivationTests

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
open Functional.Tests.InitializerTests

/// erf by its Maclaurin series (exact to ~1e-13 for |x| ≤ 5; beyond, erf = ±1 within 2e-12).
let erf (x: float) =
    if abs x > 5.0 then float (sign x)
    else
        let mutable term = x
        let mutable sum = x
        let mutable n = 0
        while abs term > 1e-17 * abs sum || n < 5 do
            n <- n + 1
            term <- -term * x * x / float n
            sum <- sum + term / float (2 * n + 1)
        2.0 / sqrt Math.PI * sum

let sigmoid x = 1.0 / (1.0 + exp -x)
let softplus x = if x > 30.0 then x + log (1.0 + exp -x) else log (1.0 + exp x)
let seluAlpha, seluScale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

/// Each Keras activation as a formula on one number.
let elementwise : (string * (float -> float)) list =
    [ "linear", id
      "relu", fun x -> max 0.0 x
      "relu6", fun x -> min (max 0.0 x) 6.0
      "leaky_relu", fun x -> if x > 0.0 then x else 0.2 * x
      "sigmoid", sigmoid
      "hard_sigmoid", fun x -> let z = x / 6.0 + 0.5 in if z <= 0.0 then 0.0 elif z >= 1.0 then 1.0 else z
      "sparse_sigmoid", fun x -> if x <= -1.0 then 0.0 elif x >= 1.0 then 1.0 else 0.5 * (x + 1.0)
      "log_sigmoid", fun x -> -(softplus -x)
      "tanh", tanh
      "hard_tanh", fun x -> min 1.0 (max -1.0 x)
      "tanh_shrink", fun x -> x - tanh x
      "elu", fun x -> if x > 0.0 then x else exp x - 1.0
      "selu", fun x -> seluScale * (if x > 0.0 then x else seluAlpha * (exp x - 1.0))
      "celu", fun x -> max x 0.0 + (exp (min x 0.0) - 1.0)
      "gelu", fun x -> 0.5 * x * (1.0 + erf (x / sqrt 2.0))
      "softplus", softplus
      "softsign", fun x -> x / (1.0 + abs x)
      "squareplus", fun x -> (x + sqrt (x * x + 4.0)) / 2.0
      "sparse_plus", fun x -> if x <= -1.0 then 0.0 elif x < 1.0 then 0.25 * (x + 1.0) ** 2.0 else x
      "soft_shrink", fun x -> if x > 0.5 then x - 0.5 elif x < -0.5 then x + 0.5 else 0.0
      "hard_shrink", fun x -> if abs x > 0.5 then x else 0.0
      "silu", fun x -> x / (1.0 + exp -x)
      "swish", fun x -> x * sigmoid x
      "hard_silu", fun x -> x * min (max 0.0 (x + 3.0)) 6.0 / 6.0
      "hard_swish", fun x -> x * min (max 0.0 (x + 3.0)) 6.0 / 6.0
      "exponential", exp
      "mish", fun x -> x * tanh (softplus x) ]

/// Keras's softmax, log_softmax and sparsemax on one vector.
let softmaxV (v: float[]) = let m = Array.max v in let e = v |> Array.map (fun x -> exp (x - m)) in let s = Array.sum e in e |> Array.map (fun x -> x / s)
let logSoftmaxV (v: float[]) = let m = Array.max v in let s = v |> Array.sumBy (fun x -> exp (x - m)) in v |> Array.map (fun x -> x - m - log s)
/// Keras 3's sparsemax formula (every backend): τ = (Σ_{j ∈ support} cumsum_j − 1) / k.
let sparsemaxV (v: float[]) =
    let sorted = Array.sortDescending v
    let cumsum = Array.scan (+) 0.0 sorted |> Array.tail
    let support = Array.init v.Length (fun j -> sorted.[j] - (cumsum.[j] - 1.0) / float (j + 1) > 0.0)
    let k = support |> Array.filter id |> Array.length |> float
    let tau = ((Array.zip support cumsum |> Array.sumBy (fun (s, c) -> if s then c else 0.0)) - 1.0) / k
    v |> Array.map (fun x -> max (x - tau) 0.0)

/// Applies a per-vector function along `axis` of a 2-D array held row-major.
let alongAxis (f: float[] -> float[]) (rows: int) (cols: int) (axis: int) (xs: float[]) =
    let out = Array.zeroCreate xs.Length
    if axis = 1 then
        for r in 0 .. rows - 1 do Array.blit (f xs.[r * cols .. r * cols + cols - 1]) 0 out (r * cols) cols
    else
        for c in 0 .. cols - 1 do
            let y = f (Array.init rows (fun r -> xs.[r * cols + c]))
            for r in 0 .. rows - 1 do out.[r * cols + c] <- y.[r]
    out

let private kerasNames =
    [ "relu"; "leaky_relu"; "relu6"; "softmax"; "celu"; "elu"; "selu"; "softplus"; "softsign"; "squareplus"; "soft_shrink"
      "sparse_plus"; "silu"; "gelu"; "tanh"; "tanh_shrink"; "sigmoid"; "sparse_sigmoid"; "exponential"; "hard_sigmoid"
      "hard_silu"; "hard_tanh"; "hard_shrink"; "linear"; "mish"; "log_softmax"; "log_sigmoid"; "sparsemax" ]

[<Tests>]
let pureTests =
    testList "Activations" [
        test "every Keras 3 activation name is known under its own name; swish and hard_swish are aliases" {
            for n in kerasNames do Expect.equal (ActivationFunction n).Name n n
            Expect.equal (ActivationFunction "swish") ActivationFunction.Silu "swish"
            Expect.equal (ActivationFunction "hard_swish") ActivationFunction.HardSilu "hard_swish"
            Expect.equal (ActivationFunction null) ActivationFunction.Linear "None is linear"
            // Besides Keras 3's names, only Keras 2's hard_sigmoid (what models read from Keras 2 files compute).
            Expect.equal (Set.ofSeq ActivationFunction.KnownNames.Values) (Set.ofList ("hard_sigmoid_keras2" :: kerasNames)) "nothing else"
        }

        test "Keras 2's hard_sigmoid is clip(0.2x + 0.5, 0, 1), Keras 3's relu6(x + 3)/6" {
            use x = TorchSharp.torch.tensor([| -4.0f; -2.5f; -1.0f; 0.0f; 1.0f; 2.5f; 4.0f |])
            use k2 = Functional.Torch.Building.ActivationOps.Apply(ActivationFunction.HardSigmoidKeras2, x)
            use k3 = Functional.Torch.Building.ActivationOps.Apply(ActivationFunction.HardSigmoid, x)
            let close (a: float32[]) (b: float32[]) what = Array.iter2 (fun (x: float32) (y: float32) -> Expect.isLessThan (abs (x - y)) 1e-6f what) a b
            close (k2.data<float32>().ToArray()) [| 0.0f; 0.0f; 0.3f; 0.5f; 0.7f; 1.0f; 1.0f |] "Keras 2"
            let expected3 = [| -4.0; -2.5; -1.0; 0.0; 1.0; 2.5; 4.0 |] |> Array.map (fun v -> float32 (min 6.0 (max 0.0 (v + 3.0)) / 6.0))
            close (k3.data<float32>().ToArray()) expected3 "Keras 3"
        }

        test "the static values name the functions" {
            Expect.equal ActivationFunction.Gelu.Name "gelu" "gelu"
            Expect.equal ActivationFunction.Sparsemax.Name "sparsemax" "sparsemax"
            Expect.equal ActivationFunction.SparsePlus.Name "sparse_plus" "sparse_plus"
            Expect.equal ActivationFunction.HardTanh.Name "hard_tanh" "hard_tanh"
            Expect.equal (Dense(3, activation = ActivationFunction.Celu).Activation.Name) "celu" "as a value"
            Expect.equal (Dense(3, activation = "mish").Activation.Name) "mish" "by name"
        }

        test "only the normalising activations depend on the axis" {
            for n in kerasNames do
                Expect.equal (ActivationFunction n).IsAxisDependent (List.contains n [ "softmax"; "log_softmax"; "sparsemax" ]) n
        }

        test "unknown names are rejected naming the value; glu and threshold are rejected with Keras's reason" {
            throwsWith<ArgumentException> [ "Could not interpret activation function identifier"; "'typo'" ] (fun () -> ActivationFunction "typo" |> ignore)
            throwsWith<ArgumentException> [ "glu"; "halves"; "activation='glu'" ] (fun () -> ActivationFunction "glu" |> ignore)
            throwsWith<ArgumentException> [ "threshold"; "default_value" ] (fun () -> ActivationFunction "threshold" |> ignore)
        }
    ]

let private probe =
    Array.append
        [| -10.0; -8.0; -6.0; -3.5; -3.0; -2.0; -1.5; -1.0; -0.75; -0.5; -0.25; -1e-4; 0.0; 1e-4; 0.25; 0.5; 0.75; 1.0; 1.5; 2.0; 3.0; 3.5; 6.0; 7.0; 10.0 |]
        (Array.init 200 (fun i -> -9.0 + 18.0 * float i / 199.0 + 0.0123))

[<Tests>]
let torchTests =
    testSequenced <| testList "Activations (values)" [
        test "every elementwise activation equals its Keras formula (float32, rtol 1e-5, atol 1e-6)" {
            torchReady 1
            use x = torch.tensor(probe |> Array.map float32)
            let xs = floats x   // the float32 inputs, as doubles
            for name, f in elementwise do
                use y = ActivationOps.Apply(ActivationFunction name, x)
                let ys = floats y
                for i in 0 .. xs.Length - 1 do
                    let expected = f xs.[i]
                    let ok = abs (ys.[i] - expected) <= 1e-6 + 1e-5 * abs expected
                    if not ok then failtestf "%s(%g) = %g, expected %g" name xs.[i] ys.[i] expected
        }

        test "the boundaries of the piecewise activations are Keras's" {
            torchReady 2
            let at name v =
                use x = torch.tensor([| float32 v |])
                use y = ActivationOps.Apply(ActivationFunction name, x)
                float (y.item<float32>())
            Expect.equal (at "hard_sigmoid" -3.0) 0.0 "hard_sigmoid(−3) = 0"
            Expect.equal (at "hard_sigmoid" 3.0) 1.0 "hard_sigmoid(3) = 1"
            Expect.equal (at "sparse_plus" -1.0) 0.0 "sparse_plus(−1) = 0"
            Expect.equal (at "sparse_plus" 1.0) 1.0 "sparse_plus(1) = 1"
            Expect.equal (at "hard_shrink" 0.5) 0.0 "hard_shrink(0.5) = 0 (strict)"
            Expect.equal (at "soft_shrink" 0.5) 0.0 "soft_shrink(0.5) = 0"
            Expect.equal (at "squareplus" 0.0) 1.0 "squareplus(0) = √4/2"
            Expect.equal (at "leaky_relu" -1.0) (float (float32 -0.2)) "negative_slope 0.2"
            Expect.equal (at "relu6" 7.0) 6.0 "relu6 caps at 6"
        }

        test "softmax, log_softmax and sparsemax normalise along the given axis as Keras's formulas do" {
            torchReady 3
            use x = torch.randn(6L, 7L) * 3.0f
            let xs = floats x
            for name, f in [ "softmax", softmaxV; "log_softmax", logSoftmaxV; "sparsemax", sparsemaxV ] do
                for axis in [ 1; 0 ] do
                    use y = ActivationOps.Apply(ActivationFunction name, x, int64 axis)
                    let expected = alongAxis f 6 7 axis xs
                    Expect.isTrue (Array.forall2 (fun (a: float) b -> abs (a - b) <= 1e-5 + 1e-5 * abs b) (floats y) expected) (sprintf "%s axis %d" name axis)
            use last = ActivationOps.Apply(ActivationFunction.Softmax, x)
            use sums = last.sum(1L)
            Expect.isTrue (sums.allclose(torch.ones(6L))) "the default axis is the last"
        }

        test "sparsemax: Keras's own checks (a one-hot on the largest of 1…12) and its formula when the support is larger" {
            torchReady 4
            use x = torch.linspace(1.0, 12.0, 12L).reshape(6L, 2L)
            use y = ActivationOps.Apply(ActivationFunction.Sparsemax, x)
            Expect.sequenceEqual (floats y) (Array.init 12 (fun i -> if i % 2 = 1 then 1.0 else 0.0)) "last column"
            use y0 = ActivationOps.Apply(ActivationFunction.Sparsemax, x, 0L)
            Expect.sequenceEqual (floats y0) (Array.init 12 (fun i -> if i >= 10 then 1.0 else 0.0)) "last row with axis 0"
            // Support {0.5, 0.4}: Keras's τ = (0.5 + 0.9 − 1)/2 = 0.2, so (0.3, 0.2).
            use z = torch.tensor([| 0.5; 0.4 |])
            use s = ActivationOps.Apply(ActivationFunction.Sparsemax, z)
            Expect.isTrue (Array.forall2 (fun (a: float) b -> abs (a - b) < 1e-12) (floats s) [| 0.3; 0.2 |]) "Keras's formula"
        }

        test "a Dense and an Activation layer apply the activation by name (sparsemax over the last logical axis)" {
            torchReady 5
            let model = Sequential(Input(4), Dense(5, activation = "squareplus", kernelInitializer = GlorotUniform(seed = 1)), Activation("sparsemax"))
            use built = BuiltNetwork.Build(model)
            use x = torch.randn(3L, 4L)
            use y = built.forward x
            let k = built.Weights |> Seq.head
            use kv = k.KerasView()
            use pre = x.matmul(kv)
            let expected = floats pre |> Array.map (fun v -> (v + sqrt (v * v + 4.0)) / 2.0) |> alongAxis sparsemaxV 3 5 1
            Expect.isTrue (Array.forall2 (fun (a: float) b -> abs (a - b) <= 1e-5) (floats y) expected) "squareplus then sparsemax"
        }
    ]
