/// Merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot): Keras's shape rules as laws
/// over generated shapes, Keras's own test cases, the errors, and the built modules' values against naive loops.
module Functional.Tests.MergingTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Torch
open Functional.Torch.Building
open Functional.Tests.Support
open Functional.Tests.NaiveTensors

let elementwiseKinds = [ "Add"; "Subtract"; "Multiply"; "Average"; "Maximum"; "Minimum" ]

let mergeOf kind : Merge =
    match kind with
    | "Add" -> Add()
    | "Subtract" -> Subtract()
    | "Multiply" -> Multiply()
    | "Average" -> Average()
    | "Maximum" -> Maximum()
    | "Minimum" -> Minimum()
    | k -> failwithf "unknown merge %s" k

let shapesOf (dims: int[] list) = dims |> List.map Shape |> Array.ofList

/// Inputs that broadcast together: each is a base shape with some leading axes dropped and some sizes replaced by 1.
type ElementwiseCase = { Kind: string; Inputs: int[] list }

let elementwiseCase maxDim =
    gen {
        let! kind = Gen.elements elementwiseKinds
        let! rank = Gen.choose (0, 4)
        let! baseDims = Gen.arrayOfLength rank (Gen.choose (1, maxDim))
        let! count = if kind = "Subtract" then Gen.constant 2 else Gen.choose (1, 4)
        let input =
            gen {
                let! drop = Gen.choose (0, rank)
                let! ones = Gen.arrayOfLength (rank - drop) (Gen.elements [ false; false; true ])
                return Array.mapi (fun i d -> if ones.[i] then 1 else d) baseDims.[drop..]
            }
        let! inputs = Gen.listOfLength count input
        return { Kind = kind; Inputs = inputs }
    }

/// Right-aligned broadcast: the output has the largest rank; each size is the largest size found at that position
/// (every size is the base size or 1).
let expectedBroadcast (inputs: int[] list) =
    let rank = inputs |> List.map Array.length |> List.max
    Array.init rank (fun p ->
        inputs |> List.map (fun s -> let k = p - (rank - s.Length) in if k >= 0 then s.[k] else 1) |> List.max)

type ConcatCase = { Axis: int; Rank: int; Inputs: int[] list }

let concatCase maxDim =
    gen {
        let! rank = Gen.choose (1, 4)
        let! baseDims = Gen.arrayOfLength rank (Gen.choose (1, maxDim))
        let! axis = Gen.choose (1, rank)   // Keras axis, batch counted
        let! count = Gen.choose (1, 4)
        let! sizes = Gen.listOfLength count (Gen.choose (1, maxDim))
        let inputs = sizes |> List.map (fun n -> Array.mapi (fun i d -> if i = axis - 1 then n else d) baseDims)
        let! negative = Gen.elements [ true; false ]
        return { Axis = (if negative then axis - rank - 1 else axis); Rank = rank; Inputs = inputs }
    }

type DotCase = { Axes: int * int; Single: bool; First: int[]; Second: int[]; Normalize: bool }

let dotCase maxDim =
    gen {
        let! r1 = Gen.choose (1, 3)
        let! r2 = Gen.choose (1, 3)
        let! s1 = Gen.arrayOfLength r1 (Gen.choose (1, maxDim))
        let! s2 = Gen.arrayOfLength r2 (Gen.choose (1, maxDim))
        let! a = Gen.choose (1, r1)
        let! b = Gen.choose (1, r2)
        let! d = Gen.choose (1, maxDim)
        let s1 = Array.mapi (fun i x -> if i = a - 1 then d else x) s1
        let s2 = Array.mapi (fun i x -> if i = b - 1 then d else x) s2
        let! negA = Gen.elements [ true; false ]
        let! negB = Gen.elements [ true; false ]
        let! normalize = Gen.elements [ true; false ]
        let axisA = if negA then a - r1 - 1 else a
        let axisB = if negB then b - r2 - 1 else b
        // A single integer stands for both axes: only usable when it resolves to a matching size in both.
        let single = axisA = axisB
        return { Axes = (axisA, axisB); Single = single; First = s1; Second = s2; Normalize = normalize }
    }

let dotLayer (c: DotCase) =
    if c.Single then Dot(IntTuple(fst c.Axes), c.Normalize) else Dot(IntTuple(fst c.Axes, snd c.Axes), c.Normalize)

// ---- naive references over flat row-major arrays (batch included) ----

/// Naive elementwise merge with Keras's broadcasting: lower ranks are aligned right (after the batch axis).
let naiveElementwise kind (xs: (int[] * float32[]) list) (outShape: int[]) =
    let size = Array.fold (*) 1 outShape
    Array.init size (fun k ->
        let idx = unravel outShape k
        let values =
            xs |> List.map (fun (shape, data) ->
                let offset = outShape.Length - shape.Length
                let j = Array.init shape.Length (fun p -> if p = 0 then idx.[0] elif shape.[p] = 1 then 0 else idx.[p + offset])
                data.[ravel shape j])
        match kind with
        | "Add" -> List.reduce (+) values
        | "Subtract" -> values.[0] - values.[1]
        | "Multiply" -> List.reduce (*) values
        | "Average" -> List.reduce (+) values / float32 values.Length
        | "Maximum" -> List.reduce max values
        | "Minimum" -> List.reduce min values
        | k -> failwithf "unknown %s" k)

let naiveConcat (axis: int) (xs: (int[] * float32[]) list) (outShape: int[]) =
    Array.init (Array.fold (*) 1 outShape) (fun k ->
        let idx = unravel outShape k
        let rec pick pos rest =
            match rest with
            | (shape: int[], data: float32[]) :: tail ->
                if pos < shape.[axis] then data.[ravel shape (Array.mapi (fun i v -> if i = axis then pos else v) idx)]
                else pick (pos - shape.[axis]) tail
            | [] -> failwith "index beyond the concatenation"
        pick idx.[axis] xs)

/// x / max(‖x‖₂ along axis, 1e-7), computed in double by loops.
let naiveNormalize (shape: int[]) (data: float32[]) (axis: int) =
    data |> Array.mapi (fun k v ->
        let idx = unravel shape k
        let mutable s = 0.0
        for t in 0 .. shape.[axis] - 1 do
            let x = float data.[ravel shape (Array.mapi (fun i u -> if i = axis then t else u) idx)]
            s <- s + x * x
        float32 (float v / max (sqrt s) 1e-7))

/// Per-sample dot products: out[b, rest1.., rest2..] = Σ_t x[b, rest1 with t at a] · y[b, rest2 with t at c].
let naiveDot (sx: int[], dx: float32[]) (sy: int[], dy: float32[]) (a: int) (c: int) (outShape: int[]) =
    let restX = sx.Length - 2   // per-sample dims of x without its axis
    Array.init (Array.fold (*) 1 outShape) (fun k ->
        let idx = unravel outShape k
        let per = if outShape.Length = 2 && restX + (sy.Length - 2) = 0 then [||] else idx.[1..]
        let px, py = per.[.. restX - 1], per.[restX..]
        let insert (rest: int[]) axis t b = Array.concat [ [| b |]; rest.[.. axis - 2]; [| t |]; rest.[axis - 1 ..] ]
        let mutable acc = 0.0
        for t in 0 .. sx.[a] - 1 do
            acc <- acc + float dx.[ravel sx (insert px a t idx.[0])] * float dy.[ravel sy (insert py c t idx.[0])]
        float32 acc)

let context () = BuildContext(Device.Cpu)

let build (layer: Layer) (shapes: Shape[]) = LayerBuilders.Build(layer, shapes, context ())

let randomInput (dims: int[]) = torch.randn([| 2L; yield! dims |> Array.map int64 |])

[<Tests>]
let pureLaws =
    testList "Merging (pure)" [
        propertyWith pureConfig "elementwise merges: right-aligned broadcasting, 1 takes the other size, largest rank wins" (Arb.fromGen (elementwiseCase 64)) (fun c ->
            (mergeOf c.Kind).ComputeOutputShape(shapesOf c.Inputs) = Shape(expectedBroadcast c.Inputs))

        propertyWith pureConfig "elementwise merges reject two different sizes other than 1, naming both shapes" (Arb.fromGen (elementwiseCase 64)) (fun c ->
            let rank = c.Inputs.[0].Length
            rank = 0 || c.Inputs.[0].[rank - 1] = 1
            || (let other = Array.copy c.Inputs.[0]
                other.[rank - 1] <- other.[rank - 1] + 1
                let layer = mergeOf c.Kind
                let inputs = if c.Kind = "Subtract" then [ c.Inputs.[0]; other ] else c.Inputs @ [ other ]
                try
                    layer.ComputeOutputShape(shapesOf inputs) |> ignore
                    false
                with :? ShapeException as e ->
                    e.Message.Contains "Inputs have incompatible shapes" && e.Message.Contains(Shape(other).ToSampleString())))

        propertyWith pureConfig "Concatenate sums the axis sizes and keeps the rest; axis a and a-(rank+1) agree" (Arb.fromGen (concatCase 100)) (fun c ->
            let out = Concatenate(c.Axis).ComputeOutputShape(shapesOf c.Inputs)
            let positive = if c.Axis < 0 then c.Axis + c.Rank + 1 else c.Axis
            let expected = Array.mapi (fun i d -> if i = positive - 1 then c.Inputs |> List.sumBy (fun s -> s.[i]) else d) c.Inputs.[0]
            out = Shape(expected) && out = Concatenate(positive).ComputeOutputShape(shapesOf c.Inputs))

        propertyWith pureConfig "Concatenate rejects any other axis differing, naming the axis" (Arb.fromGen (concatCase 100)) (fun c ->
            let positive = if c.Axis < 0 then c.Axis + c.Rank + 1 else c.Axis
            c.Rank = 1
            || (let other = Array.copy c.Inputs.[0]
                let d = if positive = 1 then 1 else 0
                other.[d] <- other.[d] + 1
                try
                    Concatenate(c.Axis).ComputeOutputShape(shapesOf (c.Inputs @ [ other ])) |> ignore
                    false
                with :? ShapeException as e ->
                    e.Message.Contains "requires inputs with matching shapes except for the concatenation axis"
                    && e.Dimension = Nullable d))

        propertyWith pureConfig "Dot: first shape without its axis, then the second without its axis; (1,) when both are vectors" (Arb.fromGen (dotCase 40)) (fun c ->
            let out = (dotLayer c).ComputeOutputShape([| Shape c.First; Shape c.Second |])
            let resolve axis (s: int[]) = (if axis < 0 then axis + s.Length + 1 else axis) - 1
            let a, b = resolve (fst c.Axes) c.First, resolve (snd c.Axes) c.Second
            let dims = Array.append (Array.removeAt a c.First) (Array.removeAt b c.Second)
            out = (if dims.Length = 0 then Shape 1 else Shape dims))

        propertyWith pureConfig "merge layers have no parameters" (Arb.fromGen (elementwiseCase 64)) (fun c ->
            (mergeOf c.Kind).Parameters(shapesOf c.Inputs).Count = 0)

        test "Keras merging_test shapes: (4, 5) pairs keep (4, 5); Concatenate(-1) gives (4, 10); Dot(-1) gives (4, 4) and (1,)" {
            let pair = [| Shape(4, 5); Shape(4, 5) |]
            for kind in elementwiseKinds do
                Expect.equal ((mergeOf kind).ComputeOutputShape pair) (Shape(4, 5)) kind
            Expect.equal (Concatenate(-1).ComputeOutputShape pair) (Shape(4, 10)) "concat"
            Expect.equal (Dot(-1).ComputeOutputShape pair) (Shape(4, 4)) "dot_3d"
            Expect.equal (Dot(-1).ComputeOutputShape [| Shape 4; Shape 4 |]) (Shape 1) "dot_2d"
            // test_dot_higher_dim: batch shapes (1, 3, 2) and (1, 1, 2, 3), axes (-2, -1) → (1, 2, 1, 2).
            Expect.equal (Dot((-2, -1)).ComputeOutputShape [| Shape(3, 2); Shape(1, 2, 3) |]) (Shape(2, 1, 2)) "dot higher dim"
            // test_concatenate_errors: (1, 1, 1, 1, 5) ++ (1, 1, 1, 1, 4) → (1, 1, 1, 1, 9).
            Expect.equal (Concatenate(-1).ComputeOutputShape [| Shape(1, 1, 1, 5); Shape(1, 1, 1, 4) |]) (Shape(1, 1, 1, 9)) "concat ok"
        }

        test "Keras merging_test errors: Concatenate does not broadcast; Subtract takes exactly 2 inputs" {
            throwsWith<ShapeException> [ "Concatenate"; "requires inputs with matching shapes except for the concatenation axis" ] (fun () ->
                Concatenate(-1).ComputeOutputShape [| Shape(2, 1, 1, 5); Shape(1, 1, 1, 4) |] |> ignore)
            throwsWith<ShapeException> [ "requires inputs with matching shapes except for the concatenation axis" ] (fun () ->
                Concatenate(1).ComputeOutputShape [| Shape(2, 1, 2, 1); Shape(1, 1, 3, 1) |] |> ignore)
            throwsWith<ShapeException> [ "Subtract"; "layer should be called on exactly 2 inputs"; "Received 3" ] (fun () ->
                Subtract().ComputeOutputShape [| Shape(4, 5); Shape(4, 5); Shape(4, 5) |] |> ignore)
            throwsWith<ShapeException> [ "layer should be called on exactly 2 inputs"; "Received 1" ] (fun () ->
                Subtract().ComputeOutputShape [| Shape(4, 5) |] |> ignore)
        }

        test "merge errors name the layer and the shapes" {
            throwsWith<ShapeException> [ "Add"; "A merge layer should be called on a list of at least 1 input"; "Received 0 inputs" ] (fun () ->
                Add().ComputeOutputShape(Array.empty<Shape>) |> ignore)
            throwsWith<ShapeException> [ "Add 'a'"; "Inputs have incompatible shapes. Received shapes (4, 5) and (3, 5)"; "(None, 4, 5)"; "(None, 3, 5)" ] (fun () ->
                Add(Name = "a").ComputeOutputShape [| Shape(4, 5); Shape(3, 5) |] |> ignore)
            throwsWith<ShapeException> [ "Maximum"; "should be called on a list of inputs"; "(None, 4)" ] (fun () ->
                Maximum().ComputeOutputShape(Shape 4) |> ignore)
            throwsWith<ShapeException> [ "Concatenate"; "at least 1 input" ] (fun () ->
                Concatenate().ComputeOutputShape(Array.empty<Shape>) |> ignore)
            throwsWith<ShapeException> [ "Concatenate"; "different ranks" ] (fun () ->
                Concatenate().ComputeOutputShape [| Shape(4, 5); Shape 5 |] |> ignore)
            throwsWith<ShapeException> [ "Concatenate"; "axis=3"; "out of range" ] (fun () ->
                Concatenate(3).ComputeOutputShape [| Shape(4, 5); Shape(4, 5) |] |> ignore)
            throwsWith<ShapeException> [ "Concatenate"; "axis=-3"; "batch axis" ] (fun () ->
                Concatenate(-3).ComputeOutputShape [| Shape(4, 5); Shape(4, 5) |] |> ignore)
            throwsWith<ArgumentException> [ "Concatenate"; "'axis'"; "axis=0" ] (fun () -> Concatenate(0) |> ignore)
            throwsWith<ShapeException> [ "Dot"; "should be called on a list of 2 inputs"; "Received 3" ] (fun () ->
                Dot(1).ComputeOutputShape [| Shape 4; Shape 4; Shape 4 |] |> ignore)
            throwsWith<ShapeException> [ "Dot"; "Incompatible input shapes: axis values 4 (at axis 2) != 5 (at axis 1)"; "(None, 3, 4), (None, 5, 2)" ] (fun () ->
                Dot((2, 1)).ComputeOutputShape [| Shape(3, 4); Shape(5, 2) |] |> ignore)
            throwsWith<ShapeException> [ "Dot"; "axis 3 is out of range for input 0" ] (fun () ->
                Dot(3).ComputeOutputShape [| Shape(3, 4); Shape(3, 4) |] |> ignore)
            throwsWith<ArgumentException> [ "Dot"; "'axes'"; "axes=(1, 2, 3)" ] (fun () -> Dot(IntTuple(1, 2, 3)) |> ignore)
            throwsWith<ArgumentException> [ "Dot"; "'axes'"; "axes=(0, 1)"; "batch axis" ] (fun () -> Dot((0, 1)) |> ignore)
        }

        test "Keras class names and default names; Dot defaults to normalize=False, Concatenate to axis -1" {
            for kind in elementwiseKinds do
                Expect.equal (mergeOf kind).ClassName kind kind
                Expect.equal (mergeOf kind).DefaultNameStem (kind.ToLowerInvariant()) kind
            Expect.equal (Concatenate().Axis) -1 "axis"
            Expect.isFalse (Dot(1).Normalize) "normalize"
            Expect.equal (Dot(1).DefaultNameStem) "dot" "dot"
            Expect.equal (Concatenate()) (Concatenate(-1)) "records compare by value"
        }
    ]

[<Tests>]
let torchLaws =
    testSequenced <| testList "Merging (TorchSharp)" [
        propertyWith torchConfig "built elementwise merges broadcast like Keras and compute what naive loops compute" (Arb.fromGen (elementwiseCase 4)) (fun c ->
            torchReady 11
            let layer = mergeOf c.Kind
            use built = build layer (shapesOf c.Inputs)
            let xs = c.Inputs |> List.map randomInput
            use y = built.Forward(Array.ofList xs)
            let expected = naiveElementwise c.Kind (xs |> List.map (fun x -> dimsOf x, flat x)) (dimsOf y)
            let ok = y.shape = built.OutputShape.WithBatch 2L && close (flat y) expected
            for x in xs do x.Dispose()
            ok)

        propertyWith torchConfig "built Concatenate matches a naive concatenation" (Arb.fromGen (concatCase 4)) (fun c ->
            torchReady 12
            use built = build (Concatenate(c.Axis)) (shapesOf c.Inputs)
            let xs = c.Inputs |> List.map randomInput
            use y = built.Forward(Array.ofList xs)
            let positive = if c.Axis < 0 then c.Axis + c.Rank + 1 else c.Axis
            let expected = naiveConcat positive (xs |> List.map (fun x -> dimsOf x, flat x)) (dimsOf y)
            let ok = y.shape = built.OutputShape.WithBatch 2L && flat y = expected
            for x in xs do x.Dispose()
            ok)

        propertyWith torchConfig "built Dot matches naive per-sample sums (after L2 normalisation when asked)" (Arb.fromGen (dotCase 4)) (fun c ->
            torchReady 13
            let layer = dotLayer c
            use built = build layer [| Shape c.First; Shape c.Second |]
            use x = randomInput c.First
            use z = randomInput c.Second
            use y = built.Forward([| x; z |])
            let resolve axis (s: int[]) = if axis < 0 then axis + s.Length + 1 else axis
            let a, b = resolve (fst c.Axes) c.First, resolve (snd c.Axes) c.Second
            let prepare (t: torch.Tensor) axis =
                let dims, data = dimsOf t, flat t
                dims, (if c.Normalize then naiveNormalize dims data axis else data)
            let expected = naiveDot (prepare x a) (prepare z b) a b (dimsOf y)
            y.shape = built.OutputShape.WithBatch 2L && close (flat y) expected)

        test "Keras's worked values: Add, Subtract, Average, Maximum, Minimum, Multiply, Concatenate(1) and Concatenate(2)" {
            torchReady 14
            use x1 = tensorOf [| 0.f; 0.f; 1.f; 2.f; 0.f; 0.f; 3.f; 4.f |] [| 1L; 4L; 2L |]
            use x2 = tensorOf [| 0.f; 0.f; 0.f; 0.f; 1.f; 2.f; 3.f; 4.f |] [| 1L; 4L; 2L |]
            let run (layer: Layer) =
                use built = build layer [| Shape(4, 2); Shape(4, 2) |]
                use y = built.Forward([| x1; x2 |])
                flat y
            Expect.equal (run (Add())) [| 0.f; 0.f; 1.f; 2.f; 1.f; 2.f; 6.f; 8.f |] "add"
            Expect.equal (run (Subtract())) [| 0.f; 0.f; 1.f; 2.f; -1.f; -2.f; 0.f; 0.f |] "subtract"
            Expect.equal (run (Average())) [| 0.f; 0.f; 0.5f; 1.f; 0.5f; 1.f; 3.f; 4.f |] "average"
            Expect.equal (run (Multiply())) [| 0.f; 0.f; 0.f; 0.f; 0.f; 0.f; 9.f; 16.f |] "multiply"
            Expect.equal (run (Minimum())) [| 0.f; 0.f; 0.f; 0.f; 0.f; 0.f; 3.f; 4.f |] "minimum"
            Expect.equal (run (Maximum())) [| 0.f; 0.f; 1.f; 2.f; 1.f; 2.f; 3.f; 4.f |] "maximum"
            Expect.equal (run (Concatenate(1))) [| 0.f; 0.f; 1.f; 2.f; 0.f; 0.f; 3.f; 4.f; 0.f; 0.f; 0.f; 0.f; 1.f; 2.f; 3.f; 4.f |] "concat axis 1"
            Expect.equal (run (Concatenate(2))) [| 0.f; 0.f; 0.f; 0.f; 1.f; 2.f; 0.f; 0.f; 0.f; 0.f; 1.f; 2.f; 3.f; 4.f; 3.f; 4.f |] "concat axis 2"
        }

        test "Dot(normalize=True) on vectors is the cosine similarity, and a zero vector gives 0, not NaN" {
            torchReady 15
            use built = build (Dot(1, normalize = true)) [| Shape 3; Shape 3 |]
            use a = tensorOf [| 1.f; 2.f; 2.f; 0.f; 0.f; 0.f |] [| 2L; 3L |]
            use b = tensorOf [| 2.f; 0.f; 0.f; 1.f; 1.f; 1.f |] [| 2L; 3L |]
            use y = built.Forward([| a; b |])
            Expect.equal (dimsOf y) [| 2; 1 |] "shape (batch, 1)"
            Expect.isTrue (close (flat y) [| 2.f / 6.f; 0.f |]) (sprintf "cosine values %A" (flat y))
        }

        test "built merge layers have no weights and reject a wrong number of tensors" {
            torchReady 16
            use built = build (Subtract()) [| Shape 3; Shape 3 |]
            Expect.isEmpty (built.Weights()) "no weights"
            Expect.isEmpty (built.parameters()) "no parameters"
            use x = torch.zeros(2L, 3L)
            throwsWith<ArgumentException> [ "Subtract"; "received 1" ] (fun () -> built.Forward([| x |]) |> ignore)
            throwsWith<ShapeException> [ "Dot"; "Incompatible input shapes" ] (fun () ->
                build (Dot(-1)) [| Shape 3; Shape 4 |] |> ignore)
        }
    ]
