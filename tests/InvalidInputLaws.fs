/// Invalid input as laws over generated invalid cases, across layer families: each asserts the exception type and
/// that the message names the layer or argument and the offending value or dimension. Never a native crash.
/// Also: seed 001's ZeroPadding2D printed matrices, and `same` with stride 1 preserving spatial dimensions.
module Functional.Tests.InvalidInputLaws

open System
open System.Reflection
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Tests.Support

/// True when `action` throws 'e whose message contains every fragment.
let rejects<'e when 'e :> exn> (fragments: string list) (action: unit -> unit) =
    try
        action ()
        false
    with
    | :? 'e as e -> fragments |> List.forall (fun f -> e.Message.Contains(f: string))
    | _ -> false

let nonPositive = Gen.choose (-1000, 0)

// ---- `with` on layer records: C#'s `r with { P = v; Q = w }` is the record's <Clone>$ copy, then each init accessor in order ----

/// C#'s `with`, as the compiler emits it: the copy, then the init accessors in the order written.
let withSet (layer: Layer) (sets: (PropertyInfo * obj) list) =
    let copy = layer.GetType().GetMethod("<Clone>$").Invoke(layer, [||]) :?> Layer
    for p, v in sets do
        try p.SetValue(copy, v) with :? TargetInvocationException as e when not (isNull e.InnerException) -> raise e.InnerException
    copy

/// The properties a `with` can set: public init (or set) accessors.
let settable (t: Type) =
    t.GetProperties(BindingFlags.Public ||| BindingFlags.Instance)
    |> Array.filter (fun p -> not (isNull p.SetMethod) && p.SetMethod.IsPublic && p.GetIndexParameters().Length = 0)

/// Values to try in a `with`: ConfigTests' candidates (mostly valid) plus ones some record must refuse.
let withCandidates (t: Type) : obj list =
    let u = Option.ofObj (Nullable.GetUnderlyingType t) |> Option.defaultValue t
    let extra: obj list =
        if u = typeof<int> then [ 0; 3; 6; 32 ]
        elif u = typeof<IntTuple> then [ IntTuple 3; IntTuple(2, 3); IntTuple(3, 1, 2); IntTuple(0, 1) ]
        elif u = typeof<Padding> then [ Padding.Causal ]
        elif u = typeof<DataFormat> then [ DataFormat.ChannelsFirst ]
        elif u = typeof<string> then [ ""; "a/b"; "unknown" ]
        elif u = typeof<double> then [ -0.5 ]
        else []
    let nullable = not t.IsValueType || not (isNull (Nullable.GetUnderlyingType t))
    ConfigTests.candidates t @ extra @ (if nullable then [ null ] else [])

/// A record is valid when it is what its Keras config makes: written and read back through its constructor, it is equal.
let validRecord (layer: Layer) =
    try LayerConfig.FromJson(LayerConfig.ToJson layer) = layer with _ -> false

/// A valid instance of a layer type and 1 to 3 `with` assignments of candidate values to its settable properties.
let withCase (t: Type) =
    let props = settable t |> Array.filter (fun p -> not (List.isEmpty (withCandidates p.PropertyType)))
    gen {
        let! layer = ConfigTests.instances t |> Gen.map (fun o -> o :?> Layer)
        let! n = Gen.choose (1, 3)
        let! sets =
            Gen.listOfLength n (gen {
                let! p = Gen.elements props
                let! v = Gen.elements (withCandidates p.PropertyType)
                return p, v })
        return layer, sets
    }

[<Tests>]
let laws =
    testList "Invalid input (generated)" [
        propertyWith pureConfig "Conv1D/2D/3D reject non-positive filters, naming 'filters' and the value" (Arb.fromGen (Gen.zip nonPositive (Gen.choose (1, 3)))) (fun (f, rank) ->
            let make () =
                match rank with
                | 1 -> Conv1D(f, 3) :> Layer
                | 2 -> Conv2D(f, 3) :> Layer
                | _ -> Conv3D(f, 3) :> Layer
            rejects<ArgumentException> [ "filters"; sprintf "filters=%d" f ] (make >> ignore))

        propertyWith pureConfig "Conv2D rejects any non-positive kernel size, naming 'kernelSize' and the tuple" (Arb.fromGen (Gen.zip nonPositive (Gen.choose (1, 9)))) (fun (bad, good) ->
            rejects<ArgumentException> [ "kernelSize"; sprintf "(%d, %d)" good bad ] (fun () -> Conv2D(4, (good, bad)) |> ignore))

        propertyWith pureConfig "Conv2D rejects strides > 1 with dilation > 1, naming both" (Arb.fromGen (Gen.zip (Gen.choose (2, 9)) (Gen.choose (2, 9)))) (fun (s, d) ->
            rejects<ArgumentException> [ sprintf "strides=(%d, %d)" s s; sprintf "dilationRate=(%d, %d)" d d ] (fun () -> Conv2D(4, 3, strides = s, dilationRate = d) |> ignore))

        propertyWith pureConfig "an input smaller than a valid kernel is rejected at declaration, naming layer, shape and axis" (Arb.fromGen (gen {
            let! k = Gen.choose (2, 9)
            let! d = Gen.choose (1, 4)
            let! n = Gen.choose (1, (k - 1) * d)
            let! w = Gen.choose ((k - 1) * d + 1, 40)
            return k, d, n, w })) (fun (k, d, n, w) ->
            rejects<ShapeException> [ "Conv2D 'conv2d'"; sprintf "(None, %d, %d, 3)" n w; "axis 1" ] (fun () ->
                Sequential(Input(n, w, 3), Conv2D(8, k, dilationRate = d)) |> ignore))

        propertyWith pureConfig "pooling rejects a non-positive pool size, naming 'poolSize' and the value" (Arb.fromGen nonPositive) (fun p ->
            rejects<ArgumentException> [ "poolSize"; string p ] (fun () -> MaxPooling2D(p) |> ignore)
            && rejects<ArgumentException> [ "poolSize"; string p ] (fun () -> AveragePooling2D(p) |> ignore))

        propertyWith pureConfig "Dense rejects non-positive units, naming the value" (Arb.fromGen nonPositive) (fun u ->
            rejects<ArgumentException> [ "Dense"; sprintf "units=%d" u ] (fun () -> Dense(u) |> ignore))

        propertyWith pureConfig "Dropout rejects a rate outside [0, 1], naming the value" (Arb.fromGen (Gen.oneof [ Gen.choose (101, 100000); Gen.choose (-100000, -1) ])) (fun r ->
            let rate = float r / 100.0
            rejects<ArgumentException> [ "Dropout"; "rate=" ] (fun () -> Dropout(rate) |> ignore))

        propertyWith pureConfig "Cropping2D that leaves nothing is rejected at declaration, naming the layer and the shape" (Arb.fromGen (gen {
            let! h = Gen.choose (1, 30)
            let! top = Gen.choose (0, h)
            let! bottom = Gen.choose (h - top, h + 5)
            return h, top, bottom })) (fun (h, top, bottom) ->
            rejects<ArgumentException> [ "Cropping2D"; sprintf "(None, %d, 8, 2)" h ] (fun () ->
                Sequential(Input(h, 8, 2), Cropping2D(((top, bottom), (0, 0)))) |> ignore))

        propertyWith pureConfig "negative cropping or padding is rejected, naming the argument" (Arb.fromGen (Gen.choose (-50, -1))) (fun v ->
            rejects<ArgumentException> [ "cropping" ] (fun () -> Cropping2D(v) |> ignore)
            && rejects<ArgumentException> [ "padding" ] (fun () -> ZeroPadding2D(v) |> ignore))

        propertyWith pureConfig "unknown padding and data_format strings are rejected naming the value" (Arb.fromGen (Gen.elements [ "full"; "SAMEE"; "vaild"; "causal!"; "" ])) (fun s ->
            rejects<ArgumentException> [ "padding" ] (fun () -> Padding.Parse s |> ignore)
            && rejects<ArgumentException> [ "data_format" ] (fun () -> DataFormat.Parse s |> ignore))

        propertyWith pureConfig "a rank mismatch is a ShapeException naming the layer and the rank, for every spatial family" (Arb.fromGen (Gen.choose (1, 6))) (fun d ->
            let flat = Shape(d)
            rejects<ShapeException> [ "Conv2D"; "rank" ] (fun () -> Conv2D(2, 1).ComputeOutputShape flat |> ignore)
            && rejects<ShapeException> [ "MaxPooling2D"; "rank" ] (fun () -> MaxPooling2D(1).ComputeOutputShape flat |> ignore))

        propertyWith pureConfig "`same` with stride 1 preserves every spatial dimension (any kernel, dilation, rank-2 input)" (Arb.fromGen (gen {
            let! h = Gen.choose (1, 300)
            let! w = Gen.choose (1, 300)
            let! k = Gen.choose (1, 11)
            let! d = Gen.choose (1, 5)
            return h, w, k, d })) (fun (h, w, k, d) ->
            Conv2D(5, k, padding = "same", dilationRate = d).ComputeOutputShape(Shape(h, w, 3)) = Shape(h, w, 5)
            && MaxPooling2D(k, 1, "same").ComputeOutputShape(Shape(h, w, 3)) = Shape(h, w, 3))

        testList "`with` cannot make an invalid layer record: it is refused naming the layer, or the result is valid" [
            for t in ConfigTests.layerTypes ->
                testPropertyWithConfig { pureConfig with maxTest = 150 } t.Name (Prop.forAll (Arb.fromGen (withCase t)) (fun (layer, sets) ->
                    let described = String.Join("; ", sets |> List.map (fun (p, v) -> sprintf "%s = %s" p.Name (if isNull v then "null" else string v)))
                    match (try Ok(withSet layer sets) with e -> Error e) with
                    | Ok made ->
                        Prop.label (sprintf "%O with { %s } made %O, which its config does not reproduce" layer described made) (validRecord made)
                    | Error(:? ArgumentException as e) ->
                        Prop.label (sprintf "the refusal of { %s } does not name %s: %s" described layer.ClassName e.Message) (e.Message.Contains(layer.ClassName))
                    | Error e -> Prop.label (sprintf "{ %s } threw %s: %s" described (e.GetType().Name) e.Message) false))
        ]

        testSequenced <| test "a batch of the wrong rank or size never reaches libtorch: a clear managed error" {
            torchReady 21
            use net = BuiltNetwork.Build(Sequential(Input(8, 8, 3), Conv2D(4, 3)))
            for shape in [ [| 2L; 8L; 8L |]; [| 2L; 8L; 8L; 4L |]; [| 2L; 3L; 8L; 8L |] ] do
                use x = torch.zeros(shape)
                throwsWith<ArgumentException> [ "(None, 8, 8, 3)" ] (fun () -> net.forward x |> ignore)
        }
    ]

/// `layer with { Name1 = v1; Name2 = v2 }` by property name.
let withProps (layer: Layer) (sets: (string * obj) list) =
    withSet layer [ for name, v in sets -> layer.GetType().GetProperty(name), v ]

[<Tests>]
let recordsNeverInvalid =
    testList "Layer records cannot exist invalid (constructor, with, config)" [
        test "the issue's case: conv with { Groups = 3; Padding = causal } is refused at once, naming the layer, the argument and the values" {
            let conv = Conv2D(32, 3)
            throwsWith<ArgumentException> [ "Conv2D"; "evenly divisible"; "groups=3"; "filters=32"; "order written" ] (fun () ->
                withProps conv [ "Groups", box 3; "Padding", box Padding.Causal ] |> ignore)
            throwsWith<ArgumentException> [ "Conv2D"; "'causal' is only supported for 1-D" ] (fun () -> withProps conv [ "Padding", box Padding.Causal ] |> ignore)
            // Keras has no rule between groups and causal padding: a Conv1D takes both.
            let made = withProps (Conv1D(6, 3)) [ "Groups", box 3; "Padding", box Padding.Causal ]
            Expect.equal made (Conv1D(6, 3, groups = 3, padding = "causal") :> Layer) "Conv1D groups 3, causal"
        }

        test "a with is checked after each assignment, in the order written: related arguments go in an order that stays valid" {
            Expect.equal (withProps (Conv2D(2, 3)) [ "Filters", box 8; "Groups", box 4 ]) (Conv2D(8, 3, groups = 4) :> Layer) "filters, then groups"
            throwsWith<ArgumentException> [ "Conv2D"; "groups=4, filters=2"; "order written" ] (fun () ->
                withProps (Conv2D(2, 3)) [ "Groups", box 4; "Filters", box 8 ] |> ignore)
            Expect.equal (withProps (Conv2D(2, 3, strides = 2)) [ "Strides", box (IntTuple.Integer 1); "DilationRate", box (IntTuple.Integer 2) ])
                (Conv2D(2, 3, dilationRate = 2) :> Layer) "strides down, then dilation up"
            throwsWith<ArgumentException> [ "Conv2DTranspose"; "`output_padding` must be strictly less than `strides`" ] (fun () ->
                withProps (Conv2DTranspose(2, 3, strides = 3, outputPadding = 2)) [ "Strides", box (IntTuple.Integer 2) ] |> ignore)
            Expect.equal (withProps (Conv2DTranspose(2, 3, strides = 3, outputPadding = 2)) [ "OutputPadding", box (IntTuple.Integer 1); "Strides", box (IntTuple.Integer 2) ])
                (Conv2DTranspose(2, 3, strides = 2, outputPadding = 1) :> Layer) "output padding down first"
        }

        test "single-argument rules and nulls are refused by the init accessor itself" {
            throwsWith<ArgumentException> [ "MaxPooling2D"; "padding='causal'" ] (fun () -> withProps (MaxPooling2D()) [ "Padding", box Padding.Causal ] |> ignore)
            throwsWith<ArgumentException> [ "DepthwiseConv2D"; "'causal'" ] (fun () -> withProps (DepthwiseConv2D(3)) [ "Padding", box Padding.Causal ] |> ignore)
            throwsWith<ArgumentException> [ "Dense"; "'activation'"; "activation=None" ] (fun () -> withProps (Dense(3)) [ "Activation", null ] |> ignore)
            throwsWith<ArgumentException> [ "SeparableConv2D"; "'pointwiseInitializer'" ] (fun () -> withProps (SeparableConv2D(3, 3)) [ "PointwiseInitializer", null ] |> ignore)
            throwsWith<ArgumentException> [ "InputLayer"; "'shape'" ] (fun () -> withProps (Input(3)) [ "Shape", null ] |> ignore)
            throwsWith<ArgumentException> [ "Cropping1D"; "'dataFormat'"; "channels_first" ] (fun () ->
                withProps (Cropping1D()) [ "DataFormat", box DataFormat.ChannelsFirst ] |> ignore)
            throwsWith<ArgumentException> [ "UpSampling1D"; "'dataFormat'" ] (fun () -> withProps (UpSampling1D()) [ "DataFormat", box DataFormat.ChannelsFirst ] |> ignore)
        }

        test "ActivityRegularization's penalty is its l1 and l2: changing them changes it, another penalty is refused" {
            let layer = ActivityRegularization(0.1, 0.2)
            Expect.equal (withProps layer [ "L1", box 0.5 ]).ActivityRegularizer (L1L2(0.5, 0.2) :> Regularizer) "follows l1"
            throwsWith<ArgumentException> [ "ActivityRegularization"; "activityRegularizer" ] (fun () ->
                withProps layer [ "ActivityRegularizer", box (L2(0.3)) ] |> ignore)
        }

        test "Normalization: mean and variance are checked with the axes; OverAllAxes refuses a list mean at construction" {
            let norm = Normalization(-1, FloatTuple 0.5, FloatTuple 2.0)
            throwsWith<ArgumentException> [ "Normalization"; "same shape" ] (fun () -> withProps norm [ "Mean", box (FloatTuple.List(1.0, 2.0)) ] |> ignore)
            throwsWith<ArgumentException> [ "Normalization"; "both `mean` and `variance`" ] (fun () -> withProps norm [ "Variance", box (FloatTuple()) ] |> ignore)
            throwsWith<ArgumentException> [ "Normalization"; "number of axes (0)" ] (fun () ->
                withProps (Normalization(-1, FloatTuple.List(1.0, 2.0), FloatTuple.List(1.0, 1.0))) [ "Axis", box (IntTuple()) ] |> ignore)
            throwsWith<ArgumentException> [ "Normalization"; "number of axes (0)" ] (fun () ->
                Normalization.OverAllAxes(FloatTuple.List(1.0, 2.0), FloatTuple.List(1.0, 1.0)) |> ignore)
            Expect.equal (Normalization.OverAllAxes(FloatTuple 1.0, FloatTuple 4.0)).Axis (IntTuple()) "axis None"
        }

        test "from a config, the same rules: cross-argument and single-argument refusals name the key" {
            let read (cls: string) (config: string) =
                try LayerConfig.FromJson(sprintf """{"class_name": "%s", "config": %s}""" cls config) |> ignore; failtest "accepted"
                with :? ModelConfigException as e -> e
            let e = read "Conv2D" """{"filters": 32, "kernel_size": 3, "groups": 3}"""
            Expect.equal e.JsonPath "$.config.groups" "groups"
            let e = read "Cropping1D" """{"cropping": 1, "data_format": "channels_first"}"""
            Expect.equal e.JsonPath "$.config.data_format" "Cropping1D has no data_format"
            let e = read "ActivityRegularization" """{"l1": 0.1, "activity_regularizer": {"class_name": "L2", "config": {"l2": 0.3}}}"""
            Expect.equal e.JsonPath "$.config.activity_regularizer" "its own penalty"
            let e = read "MaxPooling2D" """{"padding": "causal"}"""
            Expect.equal e.JsonPath "$.config.padding" "causal pooling"
        }
    ]

let private image () = torch.tensor([| 1.0f .. 9.0f |]).reshape(1L, 3L, 3L, 1L)

let private padded (padding: SidePairs) =
    use net = BuiltNetwork.Build(Sequential(Input(3, 3, 1), ZeroPadding2D(padding)))
    use x = image ()
    use y = net.forward x
    let h, w = int y.shape.[1], int y.shape.[2]
    let v = y.contiguous().data<float32>().ToArray()
    Array2D.init h w (fun i j -> v.[i * w + j])

[<Tests>]
let seed001 =
    testSequenced <| testList "Seed 001 ZeroPadding2D" [
        test "ZeroPadding2D(((1, 0), (1, 0))) on [[1,2,3],[4,5,6],[7,8,9]] prints the seed's 4×4 matrix" {
            torchReady 22
            Expect.equal (padded (SidePairs.FromPairs(struct (1, 0), struct (1, 0)))) (array2D [ [ 0.f; 0.f; 0.f; 0.f ]; [ 0.f; 1.f; 2.f; 3.f ]; [ 0.f; 4.f; 5.f; 6.f ]; [ 0.f; 7.f; 8.f; 9.f ] ]) "((1,0),(1,0))"
        }
        test "ZeroPadding2D(((2, 0), (2, 0))) gives the seed's 5×5 matrix" {
            Expect.equal (padded (SidePairs.FromPairs(struct (2, 0), struct (2, 0))))
                (array2D [ [ 0.f; 0.f; 0.f; 0.f; 0.f ]; [ 0.f; 0.f; 0.f; 0.f; 0.f ]; [ 0.f; 0.f; 1.f; 2.f; 3.f ]; [ 0.f; 0.f; 4.f; 5.f; 6.f ]; [ 0.f; 0.f; 7.f; 8.f; 9.f ] ]) "((2,0),(2,0))"
        }
        test "ZeroPadding2D(((1, 1), (1, 1))) gives the seed's bordered matrix" {
            Expect.equal (padded (SidePairs.FromPairs(struct (1, 1), struct (1, 1))))
                (array2D [ [ 0.f; 0.f; 0.f; 0.f; 0.f ]; [ 0.f; 1.f; 2.f; 3.f; 0.f ]; [ 0.f; 4.f; 5.f; 6.f; 0.f ]; [ 0.f; 7.f; 8.f; 9.f; 0.f ]; [ 0.f; 0.f; 0.f; 0.f; 0.f ] ]) "((1,1),(1,1))"
        }
    ]
